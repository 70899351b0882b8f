import NIOCore
import NIOSSL
import NIOTLS

/// What is known about a TLS connection once its handshake has completed.
public struct TLSPeerInfo: Sendable, Equatable {
    /// The negotiated protocol version.
    public var tlsVersion: TLSVersion?
    /// The DER of the certificate the peer presented (the server's leaf, seen from a client), if any.
    public var peerCertificateDER: [UInt8]?
    /// The negotiated ALPN protocol, if any.
    public var negotiatedProtocol: String?

    /// Creates a value (for tests and callers that assemble one).
    public init(tlsVersion: TLSVersion?, peerCertificateDER: [UInt8]?, negotiatedProtocol: String?) {
        self.tlsVersion = tlsVersion
        self.peerCertificateDER = peerCertificateDER
        self.negotiatedProtocol = negotiatedProtocol
    }

    /// The SHA-256 fingerprint of ``peerCertificateDER``, in ``ServerCertificate/sha256Fingerprint`` format.
    public var fingerprint: String? {
        self.peerCertificateDER.map { ServerCertificate.fingerprint(ofDER: $0) }
    }

    /// Reads the information from the `NIOSSLHandler` (client or server) in `pipeline`. Call it on the
    /// channel's event loop, after the handshake completed; before that, the values are `nil`.
    public static func current(in pipeline: ChannelPipeline.SynchronousOperations) throws -> TLSPeerInfo {
        let handler = try pipeline.handler(type: NIOSSLHandler.self)
        return TLSPeerInfo(
            tlsVersion: handler.tlsVersion,
            peerCertificateDER: try handler.peerCertificate?.toDERBytes(),
            negotiatedProtocol: nil
        )
    }

    /// Reads the information from `channel`'s `NIOSSLHandler` from any thread (after the handshake completed).
    public static func current(of channel: any Channel) async throws -> TLSPeerInfo {
        try await channel.eventLoop.submit {
            try TLSPeerInfo.current(in: channel.pipeline.syncOperations)
        }.get()
    }
}

/// Why ``TLSHandshakeObserver/handshakeCompleted`` failed without a TLS error of its own.
public enum TLSHandshakeObserverError: Error, Sendable, Equatable {
    /// The channel closed before the handshake completed.
    case channelClosedBeforeHandshake
    /// The observer was removed from the pipeline before the handshake completed.
    case removedBeforeHandshake
}

/// A pass-through handler that completes ``handshakeCompleted`` when the TLS handshake of its channel finishes
/// (with the peer's certificate and the negotiated version), or fails it with the handshake error
/// (`NIOSSLError.handshakeFailed`, a hostname validation error…) or when the channel closes first.
///
/// Add it right after (behind) the `NIOSSLClientHandler`/`NIOSSLServerHandler`. A client that pins a fingerprint
/// (trust on first use) must wait for this future and compare ``TLSPeerInfo/fingerprint`` *before* it writes
/// anything: writes issued during the handshake are sent as soon as it completes.
///
/// Not `Sendable`: create and add it on the channel's event loop; ``handshakeCompleted`` can be used anywhere.
public final class TLSHandshakeObserver: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    private let promise: EventLoopPromise<TLSPeerInfo>
    private var done = false

    /// Completed when the handshake finished; failed if it failed or the channel closed before.
    public var handshakeCompleted: EventLoopFuture<TLSPeerInfo> { self.promise.futureResult }

    /// Creates an observer whose future belongs to `eventLoop` (the channel's).
    public init(eventLoop: any EventLoop) {
        self.promise = eventLoop.makePromise(of: TLSPeerInfo.self)
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted(let negotiatedProtocol) = tlsEvent {
            do {
                var info = try TLSPeerInfo.current(in: context.pipeline.syncOperations)
                info.negotiatedProtocol = negotiatedProtocol
                self.succeed(info)
            } catch {
                self.fail(error)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.fail(error)
        context.fireErrorCaught(error)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.fail(TLSHandshakeObserverError.channelClosedBeforeHandshake)
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.fail(TLSHandshakeObserverError.removedBeforeHandshake)
    }

    private func succeed(_ info: TLSPeerInfo) {
        guard !self.done else { return }
        self.done = true
        self.promise.succeed(info)
    }

    private func fail(_ error: any Error) {
        guard !self.done else { return }
        self.done = true
        self.promise.fail(error)
    }
}

@available(*, unavailable)
extension TLSHandshakeObserver: Sendable {}
