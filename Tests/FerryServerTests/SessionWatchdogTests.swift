import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import FerryServer

@Suite("session watchdog")
struct SessionWatchdogTests {
    @Test("the next check is cancelled when the connection closes, so nothing keeps the closed channel")
    func cancelledOnClose() async throws {
        let channel = EmbeddedChannel()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 21)).get()
        let watchdog = SessionWatchdog.start(
            handle: SessionHandle(channel: channel),
            idleTimeout: .seconds(300),
            loginTimeout: .seconds(60),
            logger: Logger(label: "test")
        )
        channel.embeddedEventLoop.run()
        #expect(watchdog.hasPendingCheck)
        _ = try await channel.close()
        channel.embeddedEventLoop.run()
        #expect(!watchdog.hasPendingCheck)
    }

    @Test("a session that does not log in is closed with 421 at the login timeout")
    func loginTimeout() async throws {
        let channel = EmbeddedChannel()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 21)).get()
        // A login limit of zero: the first check finds it passed.
        SessionWatchdog.start(
            handle: SessionHandle(channel: channel),
            idleTimeout: .seconds(300),
            loginTimeout: .zero,
            logger: Logger(label: "test")
        )
        channel.embeddedEventLoop.run()
        let written = try channel.readOutbound(as: ByteBuffer.self)
        #expect(written.map { String(buffer: $0) } == "421 Login timeout, closing control connection.\r\n")
        #expect(!channel.isActive)
    }
}
