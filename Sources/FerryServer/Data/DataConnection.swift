import FerryProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// An open data connection, ready for one transfer (RFC 959 §3.2: in stream mode the connection carries one file
/// and its close marks the end of that file).
typealias DataChannel = NIOAsyncChannel<ByteBuffer, IOData>

/// Why a data connection could not be used.
enum DataConnectionError: Error, CustomStringConvertible {
    case timedOut
    case refused(String)
    case idle

    var description: String {
        switch self {
        case .timedOut: return "no data connection within the time limit"
        case .refused(let reason): return reason
        case .idle: return "data connection idle for too long"
        }
    }
}

/// Settings every data channel gets, active or passive.
struct DataChannelSettings: Sendable {
    var idleTimeout: TimeAmount
    var connectTimeout: TimeAmount
    /// PROT P: the session's TLS context. The server is the TLS server on data connections in both directions
    /// (RFC 4217 §7), and the context is the control connection's, so a client can resume its TLS session.
    var tls: NIOSSLContext? = nil

    /// Configures a fresh data channel: an idle watchdog (so a stalled peer fails the transfer instead of
    /// holding it forever) and the async wrapper with bounded buffering (backpressure on uploads).
    func configure(_ channel: Channel) throws -> DataChannel {
        let sync = channel.pipeline.syncOperations
        if let tls = self.tls { try sync.addHandler(NIOSSLServerHandler(context: tls)) }
        try sync.addHandler(IdleStateHandler(allTimeout: self.idleTimeout))
        try sync.addHandler(DataIdleHandler())
        return try DataChannel(
            wrappingChannelSynchronously: channel,
            configuration: .init(
                backPressureStrategy: .init(lowWatermark: 4, highWatermark: 16),
                isOutboundHalfClosureEnabled: false
            )
        )
    }

    static let receiveAllocator = AdaptiveRecvByteBufferAllocator(minimum: 4096, initial: 256 << 10, maximum: 1 << 20)
    /// Reads per event-loop turn, which is also how many receive buffers NIO keeps for reuse: an upload holds up to
    /// two batches of buffers (one being written), and fresh buffers cost page faults on every read.
    static let maxMessagesPerRead: UInt = 16
}

/// Turns an idle event into an error, so an upload that stalls is discarded rather than committed as if its
/// sender had finished (a plain close would look like a complete file in stream mode).
final class DataIdleHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.fireErrorCaught(DataConnectionError.idle)
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

/// Calls `onActive` once, when the channel becomes active.
final class ActivationHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny
    let onActive: @Sendable () -> Void

    init(onActive: @escaping @Sendable () -> Void) { self.onActive = onActive }

    func channelActive(context: ChannelHandlerContext) {
        self.onActive()
        context.fireChannelActive()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// A listener opened by PASV or EPSV that accepts exactly one connection, from the control connection's peer.
///
/// The accepted connection is wrapped in its async form inside the channel initializer (it must be), so it has to
/// be finished by someone whatever happens: handed to the transfer, or closed here when the listener is dropped,
/// times out, or a late connection arrives after that. The small state machine below decides which.
final class PassiveListener: Sendable {
    private enum State {
        /// Listening, nobody accepted yet.
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
    /// Whether connections to this listener are TLS (PROT P at the time of PASV).
    let protected: Bool
    private let serverChannel: Channel
    private let accepted: EventLoopPromise<DataChannel>
    private let state: NIOLockedValueBox<State>

    private init(
        port: Int,
        protected: Bool,
        serverChannel: Channel,
        accepted: EventLoopPromise<DataChannel>,
        state: NIOLockedValueBox<State>
    ) {
        self.port = port
        self.protected = protected
        self.serverChannel = serverChannel
        self.accepted = accepted
        self.state = state
    }

    /// Opens a listener on `localAddress`'s IP, on a port from `ports` (or any port).
    static func open(
        on group: EventLoopGroup,
        localAddress: SocketAddress,
        ports: ClosedRange<Int>?,
        expectedPeer: SocketAddress,
        settings: DataChannelSettings,
        acceptTimeout: TimeAmount
    ) async throws -> PassiveListener {
        let eventLoop = group.next()
        let accepted = eventLoop.makePromise(of: DataChannel.self)
        let state = NIOLockedValueBox(State.waiting)
        let peerIP = expectedPeer.ipAddress
        let bootstrap = ServerBootstrap(group: eventLoop)
            .serverChannelOption(.backlog, value: 8)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.recvAllocator, value: DataChannelSettings.receiveAllocator)
            .childChannelOption(.maxMessagesPerRead, value: DataChannelSettings.maxMessagesPerRead)
            .childChannelInitializer { child in
                // SECURITY: only the client that asked may connect (no data connection theft), and only once.
                guard child.remoteAddress?.ipAddress == peerIP,
                    state.withLockedValue({ state in
                        guard case .waiting = state else { return false }
                        state = .accepting
                        return true
                    })
                else {
                    return child.eventLoop.makeFailedFuture(DataConnectionError.refused("unexpected peer"))
                }
                return child.eventLoop.makeCompletedFuture {
                    let channel = try settings.configure(child)
                    // Hand the connection over only once it is active: the initializer runs before that.
                    try child.pipeline.syncOperations.addHandler(
                        ActivationHandler {
                            let deliver = state.withLockedValue { state in
                                guard case .accepting = state else { return false }
                                state = .delivered
                                return true
                            }
                            if deliver {
                                accepted.succeed(channel)
                            } else {
                                Self.finish(channel)
                            }
                        },
                        position: .first
                    )
                }
            }

        var candidates: [Int]
        if let ports {
            candidates = Self.candidatePorts(in: ports)
        } else {
            candidates = [0]
        }
        var lastError: Error = DataConnectionError.refused("no free passive port")
        for port in candidates {
            do {
                // A numeric address, never a host name: `bind(host:)` would run getaddrinfo (netlink round trips)
                // on every PASV.
                var address = localAddress
                address.port = port
                let channel = try await bootstrap.bind(to: address).get()
                let listener = PassiveListener(
                    port: channel.localAddress?.port ?? port,
                    protected: settings.tls != nil,
                    serverChannel: channel,
                    accepted: accepted,
                    state: state
                )
                // Nobody connects within the limit: give up and free the port.
                let timeout = eventLoop.scheduleTask(in: acceptTimeout) { listener.close(reason: .timedOut) }
                accepted.futureResult.whenComplete { _ in
                    timeout.cancel()
                    channel.close(promise: nil)
                }
                return listener
            } catch {
                lastError = error
            }
        }
        accepted.fail(lastError)
        throw lastError
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

    /// Waits for the client's connection (or the timeout) and takes it for a transfer.
    func connection() async throws -> DataChannel {
        let channel = try await self.accepted.futureResult.get()
        self.state.withLockedValue { $0 = .consumed }
        return channel
    }

    /// Closes the listener and any connection it accepted that no transfer took.
    func close(reason: DataConnectionError = .refused("superseded")) {
        let previous = self.state.withLockedValue { state in
            defer { if case .consumed = state {} else { state = .closed } }
            return state
        }
        self.serverChannel.close(promise: nil)
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

/// Opens an active-mode (PORT/EPRT) connection to the client.
func connectActive(
    to address: SocketAddress,
    group: EventLoopGroup,
    settings: DataChannelSettings
) async throws -> DataChannel {
    try await ClientBootstrap(group: group)
        .connectTimeout(settings.connectTimeout)
        .channelOption(.recvAllocator, value: DataChannelSettings.receiveAllocator)
        .channelOption(.maxMessagesPerRead, value: DataChannelSettings.maxMessagesPerRead)
        .connect(to: address) { channel in
            channel.eventLoop.makeCompletedFuture { try settings.configure(channel) }
        }
}
