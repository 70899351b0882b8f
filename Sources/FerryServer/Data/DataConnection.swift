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
    /// TCP_NOTSENT_LOWAT: how many bytes not yet sent the kernel queues on this data connection (0: no limit). The
    /// bytes in flight still grow with the connection's window, so a long, fast path keeps its speed; what stays
    /// short is the queue behind them. With 200 parallel downloads on loopback, queues of several megabytes each
    /// cost 20-30 % of the aggregate (the copies went to memory instead of staying in cache), and they are kernel
    /// memory a slow client pins. The server sets it when several transfers run (`ServerConfiguration`).
    var unsentLimit: Int = 0
    /// PROT P: the session's TLS context. The server is the TLS server on data connections in both directions
    /// (RFC 4217 §7), and the context is the control connection's, so a client can resume its TLS session.
    var tls: NIOSSLContext? = nil

    /// Configures a fresh data channel: an idle watchdog (so a stalled peer fails the transfer instead of
    /// holding it forever) and the async wrapper with bounded buffering (backpressure on uploads). At most 8
    /// received buffers wait for the upload task, fewer than NIO's pool of receive buffers, so NIO can always reuse
    /// one instead of allocating (and page-faulting) a fresh one.
    func configure(_ channel: Channel) throws -> DataChannel {
        let sync = channel.pipeline.syncOperations
        if self.unsentLimit > 0 {
            // A tuning limit: a kernel without it serves the transfer all the same.
            try? channel.syncOptions?.setOption(Self.notSentLowWatermark, value: SocketOptionValue(self.unsentLimit))
        }
        if let tls = self.tls { try sync.addHandler(NIOSSLServerHandler(context: tls)) }
        try sync.addHandler(IdleStateHandler(allTimeout: self.idleTimeout))
        try sync.addHandler(DataIdleHandler())
        return try DataChannel(
            wrappingChannelSynchronously: channel,
            configuration: .init(
                backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8),
                isOutboundHalfClosureEnabled: false
            )
        )
    }

    private static let notSentLowWatermark = ChannelOptions.Types.SocketOption(
        level: SocketOptionLevel(IPPROTO_TCP),
        name: SocketOptionName(TCP_NOTSENT_LOWAT)
    )

    static let receiveAllocator = AdaptiveRecvByteBufferAllocator(minimum: 4096, initial: 256 << 10, maximum: 1 << 20)
    /// Reads per event-loop turn, which is also how many receive buffers NIO keeps for reuse. Uploads copy what they
    /// receive into their own batches at once, so buffers return to the pool quickly.
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
