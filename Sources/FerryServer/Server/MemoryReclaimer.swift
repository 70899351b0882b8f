import CFerrySystem
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Gives the memory of a finished burst of transfers (or sessions) back to the system.
///
/// glibc keeps freed heap memory for reuse, so after 200 parallel downloads ferryd's anonymous memory stayed at
/// about 70 MB (10 MB before) for as long as it ran. Once no transfer runs and nothing started or ended for
/// `delay`, `trim` runs (by default `malloc_trim(0)` on the I/O pool; measured back to 10-12 MB). At most one timer
/// is pending at a time, however many sessions close, and the trim itself never runs on an event loop.
final class MemoryReclaimer: Sendable {
    private struct State {
        var running = 0
        /// Counts starts and ends, so a pending timer knows whether its quiet moment lasted.
        var generation = 0
        var scheduled = false
    }

    private let eventLoop: any EventLoop
    private let delay: TimeAmount?
    private let trim: @Sendable () -> Void
    private let state = NIOLockedValueBox(State())

    /// `delay` nil: never trim.
    init(eventLoop: any EventLoop, delay: TimeAmount?, trim: @escaping @Sendable () -> Void) {
        self.eventLoop = eventLoop
        self.delay = delay
        self.trim = trim
    }

    /// The default: `malloc_trim(0)` on `fileIO` (it walks the heap; it does nothing without glibc).
    convenience init(eventLoop: any EventLoop, delay: TimeAmount?, fileIO: NIOThreadPool) {
        self.init(eventLoop: eventLoop, delay: delay) {
            fileIO.submit { state in
                // A pool that is shutting down runs the item on the caller's thread, an event loop: skip it then.
                guard case .active = state else { return }
                _ = cferry_malloc_trim()
            }
        }
    }

    /// Transfers running now, server-wide.
    var runningTransfers: Int {
        self.state.withLockedValue { $0.running }
    }

    func transferStarted() {
        self.state.withLockedValue { state in
            state.running += 1
            state.generation += 1
        }
    }

    func transferEnded() {
        self.state.withLockedValue { state in
            state.running -= 1
            state.generation += 1
        }
        self.scheduleIfQuiet()
    }

    /// A session ended: its memory is free too.
    func sessionEnded() {
        self.state.withLockedValue { $0.generation += 1 }
        self.scheduleIfQuiet()
    }

    private func scheduleIfQuiet() {
        guard let delay = self.delay else { return }
        let generation: Int? = self.state.withLockedValue { state in
            guard state.running == 0, !state.scheduled else { return nil }
            state.scheduled = true
            return state.generation
        }
        guard let generation else { return }
        self.eventLoop.scheduleTask(in: delay) { self.fire(scheduledAt: generation) }
    }

    private func fire(scheduledAt generation: Int) {
        enum Next { case trim, wait, none }
        let next: Next = self.state.withLockedValue { state in
            state.scheduled = false
            guard state.running == 0 else { return .none }  // the end of what runs schedules again
            return state.generation == generation ? .trim : .wait
        }
        switch next {
        case .trim: self.trim()
        case .wait: self.scheduleIfQuiet()  // activity during the delay: wait for a quiet one
        case .none: break
        }
    }
}
