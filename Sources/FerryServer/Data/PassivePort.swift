import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A session's passive-mode listening socket, kept open across transfers.
///
/// Opening a listener costs a dozen system calls and a NIO channel per PASV, which is a third of a small
/// download's server time. So a session keeps its port: each PASV or EPSV arms it for exactly one connection (a
/// `PassiveListener`), and between transfers every connection to it is refused. A port that nobody armed for
/// `linger` is closed, so idle sessions do not hold ports of the passive range.
///
/// SECURITY: a port that stays the same is a port a third party can learn. So any connection nobody asked for (one
/// between transfers, one from another address, a second one for one PASV) retires the port: between transfers it
/// closes at once, during a transfer's wait it closes once that transfer has its connection, and the next PASV gets
/// a fresh random port. The client that asked never makes such a connection, so reuse costs it nothing.
final class PassivePort: Sendable {
    private struct State {
        /// The PASV waiting for its connection, if any.
        var armed: PassiveListener?
        /// Counts arms, so a linger timer knows whether the port was used since it was set.
        var generation = 0
        /// Someone connected who was not expected: not armed again.
        var retired = false
        var closed = false
        /// The pending linger close, cancelled by the next arm or by `close` (it holds the port).
        var lingerTimer: Scheduled<Void>?
    }

    let port: Int
    private let channel: Channel
    private let linger: TimeAmount
    private let state: NIOLockedValueBox<State>

    private init(port: Int, channel: Channel, linger: TimeAmount, state: NIOLockedValueBox<State>) {
        self.port = port
        self.channel = channel
        self.linger = linger
        self.state = state
    }

    /// Opens a listening socket on `localAddress`'s IP, on a port from `ports` (or any port), on `eventLoop`.
    static func open(
        on eventLoop: EventLoop,
        localAddress: SocketAddress,
        ports: ClosedRange<Int>?,
        linger: TimeAmount
    ) async throws -> PassivePort {
        let state = NIOLockedValueBox(State())
        let bootstrap = ServerBootstrap(group: eventLoop)
            .serverChannelOption(.backlog, value: 8)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // One accept per wake-up: a transfer expects one connection, and a second accept4 would only say EAGAIN.
            .serverChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelOption(.recvAllocator, value: DataChannelSettings.receiveAllocator)
            .childChannelOption(.maxMessagesPerRead, value: DataChannelSettings.maxMessagesPerRead)
            .childChannelInitializer { child in
                if let armed = state.withLockedValue({ $0.armed }), let accepted = armed.accept(child) {
                    return accepted
                }
                // Not the connection a PASV waits for: refused, and the port is retired (see above).
                let closeNow: Bool = state.withLockedValue { state in
                    state.retired = true
                    guard state.armed == nil, !state.closed else { return false }
                    state.closed = true
                    state.lingerTimer?.cancel()
                    state.lingerTimer = nil
                    return true
                }
                if closeNow { child.parent?.close(promise: nil) }
                return child.eventLoop.makeFailedFuture(DataConnectionError.refused("unexpected connection"))
            }
        var lastError: Error = DataConnectionError.refused("no free passive port")
        for port in ports.map({ Self.candidatePorts(in: $0) }) ?? [0] {
            do {
                // A numeric address, never a host name: `bind(host:)` would run getaddrinfo (netlink round trips).
                var address = localAddress
                address.port = port
                let channel = try await bootstrap.bind(to: address).get()
                return PassivePort(
                    port: channel.localAddress?.port ?? port,
                    channel: channel,
                    linger: linger,
                    state: state
                )
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    /// Expects one connection from `peer` within `acceptTimeout`. Returns nil if the port was closed meanwhile
    /// (the session then opens a new one). A listener armed before is superseded.
    func arm(
        expectedPeer peer: SocketAddress,
        settings: DataChannelSettings,
        acceptTimeout: TimeAmount
    ) -> PassiveListener? {
        let eventLoop = self.channel.eventLoop
        let armed: (listener: PassiveListener, previous: PassiveListener?)? = self.state.withLockedValue { state in
            guard !state.closed, !state.retired else { return nil }
            state.lingerTimer?.cancel()
            state.lingerTimer = nil
            let listener = PassiveListener(
                port: self.port,
                expectedPeerIP: peer.ipAddress,
                settings: settings,
                accepted: eventLoop.makePromise(of: DataChannel.self)
            )
            defer {
                state.armed = listener
                state.generation += 1
            }
            return (listener, state.armed)
        }
        guard let (listener, previous) = armed else { return nil }
        previous?.close()
        // Nobody connects within the limit: the transfer fails with 425.
        let timeout = eventLoop.scheduleTask(in: acceptTimeout) { listener.close(reason: .timedOut) }
        listener.accepted.futureResult.whenComplete { _ in
            timeout.cancel()
            self.disarm(listener)
        }
        return listener
    }

    /// Stops expecting `listener`'s connection and closes the port if it is not armed again within the linger time
    /// (at once if it was retired).
    private func disarm(_ listener: PassiveListener) {
        enum Next { case linger(Int), closeNow, nothing }
        let next: Next = self.state.withLockedValue { state in
            guard state.armed === listener else { return .nothing }
            state.armed = nil
            guard !state.closed else { return .nothing }
            if state.retired {
                state.closed = true
                return .closeNow
            }
            return .linger(state.generation)
        }
        switch next {
        case .nothing:
            return
        case .closeNow:
            self.channel.close(promise: nil)
        case .linger(let generation):
            let timer = self.channel.eventLoop.scheduleTask(in: self.linger) {
                let unused = self.state.withLockedValue { state in
                    guard state.generation == generation, state.armed == nil, !state.closed else { return false }
                    state.closed = true
                    state.lingerTimer = nil
                    return true
                }
                if unused { self.channel.close(promise: nil) }
            }
            self.state.withLockedValue { state in
                // Armed again or closed meanwhile (another thread): the timer is not needed.
                if state.generation == generation && !state.closed {
                    state.lingerTimer = timer
                } else {
                    timer.cancel()
                }
            }
        }
    }

    /// Closes the socket and fails a pending expectation (the session ends, or the port was retired).
    func close() {
        let armed = self.state.withLockedValue { state in
            state.closed = true
            state.lingerTimer?.cancel()
            state.lingerTimer = nil
            defer { state.armed = nil }
            return state.armed
        }
        armed?.close()
        self.channel.close(promise: nil)
    }

    /// Up to `tries` distinct ports of `range`, starting at a random one and walking with a random stride coprime
    /// to the range's size (so no port repeats): unpredictable to a third party, and two random draws where a
    /// shuffle of the whole range would cost one getrandom call per port.
    static func candidatePorts(in range: ClosedRange<Int>, tries: Int = 64) -> [Int] {
        let count = range.count
        guard count > tries else { return Array(range).shuffled() }
        let start = Int.random(in: 0..<count)
        var stride = Int.random(in: 1..<count)
        while Self.greatestCommonDivisor(stride, count) != 1 { stride = stride % (count - 1) + 1 }
        return (0..<tries).map { range.lowerBound + (start + $0 * stride) % count }
    }

    private static func greatestCommonDivisor(_ a: Int, _ b: Int) -> Int {
        b == 0 ? a : Self.greatestCommonDivisor(b, a % b)
    }
}

/// One PASV or EPSV: a promise of exactly one data connection, from the control connection's peer.
///
/// The accepted connection is wrapped in its async form inside the channel initializer (it must be), so it has to
/// be finished by someone whatever happens: handed to the transfer, or closed here when the expectation is dropped,
/// times out, or a late connection arrives after that. The small state machine below decides which.
final class PassiveListener: Sendable {
    private enum State {
        /// Nobody accepted yet.
        case waiting
        /// A connection from the right peer is being set up.
        case accepting
        /// The connection is active and in the promise.
        case delivered
        /// A transfer took the connection.
        case consumed
        /// Timed out or dropped; a late connection is closed at once.
        case closed
    }

    let port: Int
    /// Whether the connection will be TLS (PROT P at the time of PASV).
    var protected: Bool { self.settings.tls != nil }
    private let expectedPeerIP: String?
    private let settings: DataChannelSettings
    fileprivate let accepted: EventLoopPromise<DataChannel>
    private let state = NIOLockedValueBox(State.waiting)

    fileprivate init(
        port: Int,
        expectedPeerIP: String?,
        settings: DataChannelSettings,
        accepted: EventLoopPromise<DataChannel>
    ) {
        self.port = port
        self.expectedPeerIP = expectedPeerIP
        self.settings = settings
        self.accepted = accepted
    }

    /// Sets up a connection that arrived at the port while this listener was armed; nil if it is not the one this
    /// listener waits for.
    fileprivate func accept(_ child: Channel) -> EventLoopFuture<Void>? {
        // SECURITY: only the client that asked may connect (no data connection theft), and only once.
        guard child.remoteAddress?.ipAddress == self.expectedPeerIP,
            self.state.withLockedValue({ state in
                guard case .waiting = state else { return false }
                state = .accepting
                return true
            })
        else {
            return nil
        }
        return child.eventLoop.makeCompletedFuture {
            let channel = try self.settings.configure(child)
            // Hand the connection over only once it is active: the initializer runs before that.
            try child.pipeline.syncOperations.addHandler(
                ActivationHandler {
                    let deliver = self.state.withLockedValue { state in
                        guard case .accepting = state else { return false }
                        state = .delivered
                        return true
                    }
                    if deliver {
                        self.accepted.succeed(channel)
                    } else {
                        Self.finish(channel)
                    }
                },
                position: .first
            )
        }
    }

    /// Waits for the client's connection (or the timeout) and takes it for a transfer.
    func connection() async throws -> DataChannel {
        let channel = try await self.accepted.futureResult.get()
        self.state.withLockedValue { $0 = .consumed }
        return channel
    }

    /// Drops the expectation, closing any connection it accepted that no transfer took. The port stays open.
    func close(reason: DataConnectionError = .refused("superseded")) {
        let previous = self.state.withLockedValue { state in
            defer { if case .consumed = state {} else { state = .closed } }
            return state
        }
        switch previous {
        case .waiting, .accepting:
            self.accepted.fail(reason)
        case .delivered:
            self.accepted.futureResult.whenSuccess { Self.finish($0) }
        case .consumed, .closed:
            break
        }
    }

    /// Closes a connection nobody will use. The async wrapper must be finished, not just dropped.
    private static func finish(_ channel: DataChannel) {
        Task { try? await channel.executeThenClose { _, _ in } }
    }
}
