import FerryProtocol
import NIOCore

/// The control connection's command lines, as the session task reads them.
///
/// This is the job `NIOAsyncChannel` over a `ByteToMessageHandler` did, without their generic machinery: in a loop
/// of small downloads (three commands per file) that machinery was a fifth of ferryd's user time (BENCHMARKS.md,
/// "Small files"). Here one handler decodes the lines and gives them to the session directly. Everything runs on the
/// connection's event loop: the handler, and the session task, whose executor is that loop.
///
/// Memory stays bounded: at most `highWatermark` decoded lines wait for the session. Beyond that the bytes stay
/// undecoded in the handler (one read's worth at most) and the connection is not read until the session catches up.
final class ControlLineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Lines decoded and not yet read by the session.
    static let highWatermark = 8

    private var decoder: FTPLineDecoder
    /// Bytes received and not decoded yet (a partial line, or lines held back while the queue is full).
    private var received: ByteBuffer?
    private var lines = CircularBuffer<FTPControlLine>(initialCapacity: 4)
    /// The session waiting for its next line.
    private var waiter: UnsafeContinuation<FTPControlLine?, Error>?
    /// NIO asked to read while the queue was full: the read is made once the session has taken lines.
    private var readHeldBack = false
    private var ended = false
    private var failure: Error?
    private var context: ChannelHandlerContext?
    let eventLoop: EventLoop

    init(maximumLineLength: Int, eventLoop: EventLoop) {
        self.decoder = FTPLineDecoder(maximumLineLength: maximumLineLength)
        self.eventLoop = eventLoop
    }

    /// The next command line; nil once the client closed the connection. Throws what broke the connection (a TLS
    /// error, say). Call from the event loop, one caller at a time. Not cancellable: a session ends when its
    /// connection closes (at shutdown the server closes every connection after the grace period).
    func next() async throws -> FTPControlLine? {
        self.eventLoop.assertInEventLoop()
        if let line = self.take() { return line }
        if let failure = self.failure { throw failure }
        if self.ended { return nil }
        return try await withUnsafeThrowingContinuation { self.waiter = $0 }
    }

    /// Forgets every line queued and every byte received but not yet taken by the session, and any partial line.
    ///
    /// SECURITY (STARTTLS command injection, CVE-2011-0411 class): whatever the client sent in clear after `AUTH TLS`
    /// and before the TLS handshake must never run as if it had come over TLS. The session calls this in the same
    /// event-loop tick as it puts the TLS handler in front of this one, so from then on only decrypted bytes reach
    /// the decoder.
    func discardUnread() {
        self.eventLoop.assertInEventLoop()
        self.lines.removeAll()
        self.received = nil
        self.decoder = FTPLineDecoder(maximumLineLength: self.decoder.maximumLineLength)
        if self.readHeldBack, !self.ended {
            self.readHeldBack = false
            self.context?.read()
        }
    }

    /// Takes a queued line, decoding held-back bytes into the room it leaves and reading on when there is room.
    private func take() -> FTPControlLine? {
        guard let line = self.lines.popFirst() else { return nil }
        self.decodeReceived()
        if self.readHeldBack, self.lines.count < Self.highWatermark, !self.ended {
            self.readHeldBack = false
            self.context?.read()
        }
        return line
    }

    /// Decodes received bytes into lines while there is room in the queue.
    private func decodeReceived() {
        while self.lines.count < Self.highWatermark, var bytes = self.received {
            self.received = nil  // not shared while the decoder moves its reader index
            // The decoder never fails; its `throws` comes from ByteToMessageDecoder's shape.
            let line = try? self.decoder.decodeLine(&bytes)
            if bytes.readableBytes > 0 {
                // What is left of a partial line moves to the start, so the buffer does not grow with each read.
                if line == nil { bytes.discardReadBytes() }
                self.received = bytes
            }
            guard let line else { return }
            self.lines.append(line)
        }
    }

    /// Gives the next line (or the end) to a waiting session.
    private func wakeWaiter() {
        guard let waiter = self.waiter else { return }
        if let line = self.take() {
            self.waiter = nil
            waiter.resume(returning: line)
        } else if let failure = self.failure {
            self.waiter = nil
            waiter.resume(throwing: failure)
        } else if self.ended {
            self.waiter = nil
            waiter.resume(returning: nil)
        }
    }

    // MARK: - ChannelHandler

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.ended = true
        self.wakeWaiter()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = Self.unwrapInboundIn(data)
        if self.received == nil {
            self.received = bytes
        } else {
            self.received!.writeBuffer(&bytes)
        }
        self.decodeReceived()
        self.wakeWaiter()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // A partial line at the end is not a command: the client went away before finishing it.
        self.ended = true
        self.wakeWaiter()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if self.failure == nil { self.failure = error }
        self.wakeWaiter()
    }

    func read(context: ChannelHandlerContext) {
        if self.lines.count >= Self.highWatermark {
            self.readHeldBack = true
        } else {
            context.read()
        }
    }
}

/// A control connection as the listener hands it to a session: the channel and its lines.
struct ControlConnection: Sendable {
    let channel: Channel
    let lines: NIOLoopBound<ControlLineHandler>

    /// Sets up `channel`'s pipeline for control lines, after the TLS handler if there is one. Call on its loop.
    static func configure(_ channel: Channel, maximumLineLength: Int) throws -> ControlConnection {
        let handler = ControlLineHandler(maximumLineLength: maximumLineLength, eventLoop: channel.eventLoop)
        try channel.pipeline.syncOperations.addHandler(handler)
        return ControlConnection(channel: channel, lines: NIOLoopBound(handler, eventLoop: channel.eventLoop))
    }
}
