import FerryTLS
import FerryTestSupport
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Testing

// MARK: - Files and processes

/// A fresh temporary directory, removed after `body`.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-tls-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: base) }
    return try await body(base.path)
}

/// Whether `openssl` is on the PATH (the OpenSSL comparisons are skipped without it).
let opensslAvailable: Bool =
    FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")
    || (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").contains {
        FileManager.default.isExecutableFile(atPath: "\($0)/openssl")
    }

/// Runs openssl and requires success.
@discardableResult
func openssl(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
    let result = try await runProcess("openssl", arguments)
    try #require(
        result.status == 0 && !result.timedOut,
        "openssl \(arguments.joined(separator: " ")) failed: \(result.stderr)",
        sourceLocation: sourceLocation
    )
    return result.stdout
}

// MARK: - Time limits

struct TestTimeout: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out: \(self.what)" }
}

extension EventLoopFuture where Value: Sendable {
    /// This future, failed with ``TestTimeout`` if it has not completed within `seconds`.
    func timeout(_ seconds: Int64 = 10, _ what: String) -> EventLoopFuture<Value> {
        let promise = self.eventLoop.makePromise(of: Value.self)
        let task = self.eventLoop.scheduleTask(in: .seconds(seconds)) {
            promise.fail(TestTimeout(what: what))
        }
        self.whenComplete { result in
            task.cancel()
            promise.completeWith(result)
        }
        return promise.futureResult
    }
}

// MARK: - Echo server and test client

/// Echoes every byte back.
final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// A TLS echo server on 127.0.0.1, port chosen by the kernel, using the provider's handler.
struct EchoServer: Sendable {
    let channel: any Channel
    var port: Int { self.channel.localAddress!.port! }

    static func start(provider: TLSContextProvider) async throws -> EchoServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(provider.makeServerHandler())
                    try channel.pipeline.syncOperations.addHandler(EchoHandler())
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return EchoServer(channel: channel)
    }

    func stop() async {
        try? await self.channel.close()
    }
}

/// Collects what the server sends and completes a promise once the expected number of bytes arrived.
final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var received = ByteBuffer()
    private var waiting: (count: Int, promise: EventLoopPromise<String>)?

    func expect(count: Int, promise: EventLoopPromise<String>) {
        self.waiting = (count, promise)
        self.check()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = self.unwrapInboundIn(data)
        self.received.writeBuffer(&buffer)
        self.check()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.waiting?.promise.fail(error)
        self.waiting = nil
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.waiting?.promise.fail(ChannelError.ioOnClosedChannel)
        self.waiting = nil
        context.fireChannelInactive()
    }

    private func check() {
        guard let waiting = self.waiting, self.received.readableBytes >= waiting.count else { return }
        self.waiting = nil
        waiting.promise.succeed(self.received.readString(length: waiting.count)!)
    }
}

/// A TLS client connection for the tests.
struct TestClient: Sendable {
    let channel: any Channel
    /// Completes with the peer information once the handshake is done (fails if it failed).
    let handshake: EventLoopFuture<TLSPeerInfo>

    static func connect(port: Int, context: NIOSSLContext, host: String = "127.0.0.1") async throws -> TestClient {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(TLSContextProvider.makeClientHandler(context: context, host: host))
                    let observer = TLSHandshakeObserver(eventLoop: channel.eventLoop)
                    try sync.addHandler(observer)
                    try sync.addHandler(ResponseCollector())
                    return TestClient(channel: channel, handshake: observer.handshakeCompleted)
                }
            }
    }

    /// Waits (bounded) for the handshake.
    func handshakeInfo() async throws -> TLSPeerInfo {
        try await self.handshake.timeout(10, "TLS handshake").get()
    }

    /// Sends `text` and waits (bounded) until it has come back.
    func echo(_ text: String) async throws -> String {
        let channel = self.channel
        return try await channel.eventLoop.flatSubmit { () -> EventLoopFuture<String> in
            let promise = channel.eventLoop.makePromise(of: String.self)
            do {
                let collector = try channel.pipeline.syncOperations.handler(type: ResponseCollector.self)
                collector.expect(count: text.utf8.count, promise: promise)
                channel.writeAndFlush(ByteBuffer(string: text), promise: nil)
            } catch {
                promise.fail(error)
            }
            return promise.futureResult
        }.timeout(10, "echo of \(text)").get()
    }

    func close() async {
        try? await self.channel.close()
    }
}
