import CFerrySystem
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// A session's passive-mode listening socket, kept open across transfers.
///
/// Opening a listener costs a dozen system calls and a NIO channel per PASV, which is a third of a small
/// download's server time. So a session keeps its port: each PASV or EPSV arms it for exactly one connection (a
/// `PassiveListener`), and between transfers every connection to it is refused. A port that nobody armed for
/// `linger` is closed, so idle sessions do not hold ports of the passive range.
///
/// SECURITY: a port that stays the same is a port a third party can learn. So any connection nobody asked for (one
/// between transfers, one from another address, a second one for one PASV) gets no data and retires the port: the
/// port closes, and the next PASV gets a fresh random one. The client that asked never makes such a connection, so
/// reuse costs it nothing.
///
/// The socket is ferryd's own, and NIO listens on a duplicate of it. Connections wait in the socket's queue until a
/// transfer command decides who takes them: a plain binary STOR, or RETR of a small file, accepts the client's
/// connection here as a `DirectDataSocket`; every other transfer lets NIO accept it. NIO accepts only while such a
/// transfer waits for its connection, so a small download costs no epoll changes. A connection made between
/// transfers is found in the queue by the next PASV (which retires the port and opens another) or closed with the
/// port when it lingers out.
final class PassivePort: Sendable {
    private struct State {
        /// The PASV waiting for its connection, if any.
        var armed: PassiveListener?
        /// When the port was last disarmed: it closes `linger` after that unless it is armed again.
        var idleSince = NIODeadline.now()
        /// Someone connected who was not expected: not armed again.
        var retired = false
        var closed = false
        /// The pending linger check (at most one; it re-schedules itself while the port is in use).
        var lingerTimer: Scheduled<Void>?
        /// Whether NIO accepts connections (only while a transfer that is not direct waits for its connection).
        var accepting = false
        /// ferryd's own descriptor of the listening socket (NIO has a duplicate); -1 once closed.
        var socket: CInt

        /// Someone connected who was not expected. Returns true if the port must close now (nobody is armed);
        /// otherwise it closes when the armed transfer has its connection.
        mutating func retire() -> Bool {
            self.retired = true
            guard self.armed == nil, !self.closed else { return false }
            self.markClosed()
            return true
        }

        /// Closes the connections waiting in the socket's queue. Called when no PASV waits for them. When a PASV
        /// ends without a transfer, its client's connection may wait there (`leftoversFrom` is the client's address):
        /// it is closed quietly. Any other connection is a stranger's and retires the port; with `leftoversFrom` nil
        /// (when a PASV arms the port, after its predecessor's leftovers were closed) every one is.
        mutating func dropQueued(leftoversFrom clientIP: String?) {
            while self.socket >= 0 {
                var peer = sockaddr_storage()
                let fd = cferry_accept(self.socket, &peer, 0)
                guard fd >= 0 else { return }
                Glibc.close(fd)
                if clientIP == nil || PassivePort.ipAddress(of: peer) != clientIP { self.retired = true }
            }
        }

        /// Marks the port closed: no more arms, no linger, and ferryd's descriptor closed (NIO's channel is
        /// closed by the caller).
        mutating func markClosed() {
            self.closed = true
            self.lingerTimer?.cancel()
            self.lingerTimer = nil
            if self.socket >= 0 { Glibc.close(self.socket) }
            self.socket = -1
        }
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
        let state = NIOLockedValueBox(State(socket: -1))
        // The socket itself (backlog, SO_REUSEADDR) is made by `cferry_listen` below.
        let bootstrap = ServerBootstrap(group: eventLoop)
            // One accept per wake-up: a transfer expects one connection, and a second accept4 would only say EAGAIN.
            .serverChannelOption(.maxMessagesPerRead, value: 1)
            // Connections wait in the queue until a transfer command says who takes them (see the type's comment).
            .serverChannelOption(.autoRead, value: false)
            .childChannelOption(.recvAllocator, value: DataChannelSettings.receiveAllocator)
            .childChannelOption(.maxMessagesPerRead, value: DataChannelSettings.maxMessagesPerRead)
            .childChannelInitializer { child in
                if let armed = state.withLockedValue({ $0.armed }), let accepted = armed.accept(child) {
                    return accepted
                }
                // Not the connection a PASV waits for: refused, and the port is retired (see above).
                let closeNow = state.withLockedValue { $0.retire() }
                if closeNow { child.parent?.close(promise: nil) }
                return child.eventLoop.makeFailedFuture(DataConnectionError.refused("unexpected connection"))
            }
        var lastError: Error = DataConnectionError.refused("no free passive port")
        for port in ports.map({ Self.candidatePorts(in: $0) }) ?? [0] {
            // A numeric address, never a host name: `bind(host:)` would run getaddrinfo (netlink round trips).
            var address = localAddress
            address.port = port
            let socket = address.withSockAddr { cferry_listen($0, socklen_t($1), 8) }
            guard socket >= 0 else {
                lastError = IOError(errnoCode: errno, reason: "bind to passive port \(port)")
                continue
            }
            let duplicate = dup(socket)
            guard duplicate >= 0 else {
                lastError = IOError(errnoCode: errno, reason: "dup")
                Glibc.close(socket)
                continue
            }
            let channel: Channel
            do {
                channel = try await bootstrap.withBoundSocket(duplicate).get()
            } catch {
                // The duplicate is NIO's from the call on; only ferryd's own descriptor is closed here.
                Glibc.close(socket)
                throw error
            }
            state.withLockedValue { $0.socket = socket }
            return PassivePort(port: channel.localAddress?.port ?? port, channel: channel, linger: linger, state: state)
        }
        throw lastError
    }

    /// Expects one connection from `peer`; a transfer waits for it at most `acceptTimeout` from its command (see
    /// `PassiveListener.connection`). Returns nil if the port was closed meanwhile (the session then opens a new
    /// one). A listener armed before is superseded.
    func arm(
        expectedPeer peer: SocketAddress,
        settings: DataChannelSettings,
        acceptTimeout: TimeAmount
    ) -> PassiveListener? {
        let eventLoop = self.channel.eventLoop
        let armed: (listener: PassiveListener, previous: PassiveListener?, stopAccepting: Bool)? = self.state
            .withLockedValue { state in
                // Nothing queued now can be for this PASV (the client learns the port from its reply), nor for the
                // one before (closed when it ended): it connected between transfers.
                state.dropQueued(leftoversFrom: nil)
                guard !state.closed, !state.retired else { return nil }
                let listener = PassiveListener(
                    owner: self,
                    expectedPeerIP: peer.ipAddress,
                    settings: settings,
                    acceptTimeout: acceptTimeout,
                    accepted: eventLoop.makePromise(of: DataChannel.self)
                )
                defer {
                    state.armed = listener
                    state.accepting = false
                }
                return (listener, state.armed, state.accepting)
            }
        guard let (listener, previous, stopAccepting) = armed else { return nil }
        previous?.close()
        // Until the transfer command says who accepts (see the type's comment).
        if stopAccepting { self.setAutoRead(false) }
        listener.accepted.futureResult.whenComplete { result in
            // Not taken (timed out, replaced, its command failed): the client's connection for it may be queued.
            if case .failure = result, !listener.taken {
                self.state.withLockedValue { $0.dropQueued(leftoversFrom: peer.ipAddress) }
            }
            self.disarm(listener)
        }
        return listener
    }

    /// Stops expecting `listener`'s connection and closes the port if it is not armed again within the linger time
    /// (at once if it was retired).
    private func disarm(_ listener: PassiveListener) {
        enum Next { case linger(stopAccepting: Bool, startTimer: Bool), closeNow, nothing }
        let next: Next = self.state.withLockedValue { state in
            guard state.armed === listener else { return .nothing }
            state.armed = nil
            guard !state.closed else { return .nothing }
            if state.retired {
                state.markClosed()
                return .closeNow
            }
            state.idleSince = .now()
            defer { state.accepting = false }
            return .linger(stopAccepting: state.accepting, startTimer: state.lingerTimer == nil)
        }
        switch next {
        case .nothing:
            return
        case .closeNow:
            self.channel.close(promise: nil)
        case .linger(let stopAccepting, let startTimer):
            if stopAccepting { self.setAutoRead(false) }
            // One timer per linger period, not one per transfer: it checks, and re-schedules while the port is used.
            if startTimer { self.scheduleLingerCheck(at: .now() + self.linger) }
        }
    }

    /// Closes the port at `deadline` if it was not armed since `idleSince` moved there; otherwise checks again later.
    private func scheduleLingerCheck(at deadline: NIODeadline) {
        let timer = self.channel.eventLoop.scheduleTask(deadline: deadline) {
            enum Check { case close, later(NIODeadline), stop }
            let check: Check = self.state.withLockedValue { state in
                state.lingerTimer = nil
                guard !state.closed, state.armed == nil else { return .stop }  // an armed port's disarm starts one
                let end = state.idleSince + self.linger
                guard NIODeadline.now() >= end else { return .later(end) }
                state.markClosed()
                return .close
            }
            switch check {
            case .close: self.channel.close(promise: nil)
            case .later(let end): self.scheduleLingerCheck(at: end)
            case .stop: break
            }
        }
        self.state.withLockedValue { state in
            // Closed meanwhile (another thread): the timer is not needed.
            if state.closed { timer.cancel() } else { state.lingerTimer = timer }
        }
    }

    /// Closes the socket and fails a pending expectation (the session ends, or the port was retired).
    func close() {
        let armed = self.state.withLockedValue { state in
            state.markClosed()
            defer { state.armed = nil }
            return state.armed
        }
        armed?.close()
        self.channel.close(promise: nil)
    }

    /// Lets NIO accept the connection of a transfer that is not direct (until it is disarmed).
    fileprivate func startAccepting(for listener: PassiveListener) {
        let start = self.state.withLockedValue { state in
            guard state.armed === listener, !state.accepting, !state.closed else { return false }
            state.accepting = true
            return true
        }
        if start { self.setAutoRead(true) }
    }

    private func setAutoRead(_ on: Bool) {
        if self.channel.eventLoop.inEventLoop, let options = self.channel.syncOptions {
            try? options.setOption(.autoRead, value: on)
        } else {
            self.channel.setOption(.autoRead, value: on).whenFailure { _ in }
        }
    }

    /// Accepts a connection already queued for `listener`, itself. Connections from another
    /// address are closed and retire the port, as NIO's path does. Nil when none is queued (the client has not
    /// connected yet) or `listener` is no longer the armed one.
    fileprivate func acceptQueued(
        for listener: PassiveListener,
        expectedPeerIP: String?,
        nonBlocking: Bool
    ) -> DirectDataSocket? {
        while true {
            let accepted: (fd: CInt, peer: String?)? = self.state.withLockedValue { state in
                guard state.armed === listener, state.socket >= 0 else { return nil }
                var peer = sockaddr_storage()
                let fd = cferry_accept(state.socket, &peer, nonBlocking ? 1 : 0)
                guard fd >= 0 else { return nil }
                return (fd, Self.ipAddress(of: peer))
            }
            guard let accepted else { return nil }
            if accepted.peer == expectedPeerIP { return DirectDataSocket(fd: accepted.fd) }
            // SECURITY: not the client that asked; the port is retired once this transfer has its connection.
            Glibc.close(accepted.fd)
            _ = self.state.withLockedValue { $0.retire() }
        }
    }

    /// The IP address text of an accepted peer, as `SocketAddress.ipAddress` spells it.
    fileprivate static func ipAddress(of storage: sockaddr_storage) -> String? {
        let family = CInt(storage.ss_family)
        return withUnsafeBytes(of: storage) { raw -> String? in
            switch family {
            case AF_INET:
                return SocketAddress(raw.load(as: sockaddr_in.self), host: "").ipAddress
            case AF_INET6:
                return SocketAddress(raw.load(as: sockaddr_in6.self), host: "").ipAddress
            default:
                return nil
            }
        }
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

        var isWaiting: Bool {
            if case .waiting = self { return true }
            return false
        }
    }

    /// The port the client is to connect to.
    var port: Int { self.owner.port }
    private let owner: PassivePort
    /// Whether the connection will be TLS (PROT P at the time of PASV).
    var protected: Bool { self.settings.tls != nil }
    private let expectedPeerIP: String?
    private let settings: DataChannelSettings
    private let acceptTimeout: TimeAmount
    fileprivate let accepted: EventLoopPromise<DataChannel>
    private let state = NIOLockedValueBox(State.waiting)

    fileprivate init(
        owner: PassivePort,
        expectedPeerIP: String?,
        settings: DataChannelSettings,
        acceptTimeout: TimeAmount,
        accepted: EventLoopPromise<DataChannel>
    ) {
        self.acceptTimeout = acceptTimeout
        self.owner = owner
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

    /// Waits for the client's connection and takes it for a transfer, accepted by NIO. Nobody connects within
    /// `acceptTimeout`: the transfer fails with 425. The time counts from the transfer command, not from the PASV
    /// (as vsftpd does): a client may connect at once and send its command later.
    func connection() async throws -> DataChannel {
        self.owner.startAccepting(for: self)
        let timeout = self.accepted.futureResult.eventLoop.scheduleTask(in: self.acceptTimeout) {
            self.close(reason: .timedOut)
        }
        defer { timeout.cancel() }
        let channel = try await self.accepted.futureResult.get()
        self.state.withLockedValue { $0 = .consumed }
        return channel
    }

    /// Whether a transfer took the connection (it is not to be dropped with the queue).
    fileprivate var taken: Bool {
        self.state.withLockedValue { state in
            if case .consumed = state { return true }
            return false
        }
    }

    /// Takes the client's connection as a `DirectDataSocket` if it is already queued (clients connect before they
    /// send the transfer command); nil otherwise, and the transfer then waits with `connection()`. A blocking socket
    /// is for a thread of its own; a non-blocking one may be used on the event loop.
    func directConnection(nonBlocking: Bool) -> DirectDataSocket? {
        guard !self.protected, self.state.withLockedValue({ $0.isWaiting }) else { return nil }
        guard
            let socket = self.owner.acceptQueued(
                for: self,
                expectedPeerIP: self.expectedPeerIP,
                nonBlocking: nonBlocking
            )
        else { return nil }
        let taken = self.state.withLockedValue { state in
            guard state.isWaiting else { return false }
            state = .consumed
            return true
        }
        guard taken else {
            socket.close()
            return nil
        }
        // Completes the expectation (nobody awaits it): the port is disarmed and accepts strangers again.
        self.accepted.fail(DataConnectionError.refused("taken as a direct connection"))
        return socket
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
