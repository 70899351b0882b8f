import Logging
import NIOCore

/// Closes a session with 421 when it was idle too long or did not log in in time.
///
/// It runs on the control connection's event loop, rescheduling itself: no task per session. The next check is
/// cancelled when the connection closes; before, a pending check held the closed channel (a few KiB) until its
/// deadline, up to the idle timeout later, and a login storm of 3,000 sessions a second kept 130-230 MB alive.
final class SessionWatchdog: Sendable {
    private let pending: NIOLoopBoundBox<Scheduled<Void>?>

    private init(eventLoop: any EventLoop) {
        self.pending = NIOLoopBoundBox(nil, eventLoop: eventLoop)
    }

    /// Starts watching `handle`'s session (its channel's close stops the watch).
    @discardableResult
    static func start(
        handle: SessionHandle,
        idleTimeout idle: TimeAmount,
        loginTimeout loginLimit: TimeAmount,
        logger: Logger
    ) -> SessionWatchdog {
        let channel = handle.channel
        let watchdog = SessionWatchdog(eventLoop: channel.eventLoop)
        let pending = watchdog.pending
        let connectedAt = NIODeadline.now()

        @Sendable func check() {
            pending.value = nil
            guard channel.isActive else { return }
            let now = NIODeadline.now()
            let activity = handle.activity.withLockedValue { $0 }
            if !activity.loggedIn && now - connectedAt >= loginLimit {
                logger.info("login timeout")
                handle.closeWithReply("421 Login timeout, closing control connection.\r\n")
                return
            }
            var next = activity.lastCommand + idle
            if activity.transferActive || activity.commandInProgress {
                next = now + idle
            } else if now >= next {
                logger.info("idle timeout")
                handle.closeWithReply("421 Idle timeout, closing control connection.\r\n")
                return
            }
            if !activity.loggedIn { next = min(next, connectedAt + loginLimit) }
            pending.value = channel.eventLoop.scheduleTask(deadline: next) { check() }
        }
        channel.eventLoop.execute { check() }
        channel.closeFuture.whenComplete { _ in
            pending.value?.cancel()
            pending.value = nil
        }
        return watchdog
    }

    /// Whether a check is scheduled (for tests; call on the event loop).
    var hasPendingCheck: Bool { self.pending.value != nil }
}
