import NIOCore
import NIOPosix
import Testing

@testable import FerryServer

#if canImport(Glibc)
    import Glibc
#endif

@Suite("data channel settings")
struct DataChannelSettingsTests {
    /// The kernel's TCP_NOTSENT_LOWAT of a data channel configured with `unsentLimit`, read back with getsockopt.
    static func notSentLowWatermark(unsentLimit: Int) async throws -> Int {
        let group = MultiThreadedEventLoopGroup.singleton
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { $0.eventLoop.makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { server.close(promise: nil) }
        let client = try await ClientBootstrap(group: group).connect(to: server.localAddress!).get()
        defer { client.close(promise: nil) }
        let settings = DataChannelSettings(
            idleTimeout: .seconds(5),
            connectTimeout: .seconds(5),
            unsentLimit: unsentLimit
        )
        return try await client.eventLoop.submit {
            _ = try settings.configure(client)
            let option = ChannelOptions.Types.SocketOption(
                level: SocketOptionLevel(IPPROTO_TCP),
                name: SocketOptionName(TCP_NOTSENT_LOWAT)
            )
            return Int(try client.syncOptions!.getOption(option))
        }.get()
    }

    @Test("a data channel queues at most the configured unsent bytes; 0 leaves the kernel's default")
    func unsentLimit() async throws {
        #expect(try await Self.notSentLowWatermark(unsentLimit: 256 << 10) == 256 << 10)
        #expect(try await Self.notSentLowWatermark(unsentLimit: 64 << 10) == 64 << 10)
        // Unset, the kernel reports its sysctl (net.ipv4.tcp_notsent_lowat), by default UINT_MAX.
        let unset = try await Self.notSentLowWatermark(unsentLimit: 0)
        #expect(unset != 256 << 10 && unset != 64 << 10)
    }
}

@Suite("unsent-bytes limit")
struct UnsentLimitTests {
    @Test("a data connection opened while enough transfers run gets the limit; a lone one keeps the full buffer")
    func threshold() {
        var configuration = ServerConfiguration()
        #expect(configuration.unsentLimit(whileRunning: 0) == 0)
        #expect(configuration.unsentLimit(whileRunning: 3) == 0)
        #expect(configuration.unsentLimit(whileRunning: 4) == 256 << 10)
        #expect(configuration.unsentLimit(whileRunning: 200) == 256 << 10)
        configuration.dataUnsentLimitTransfers = 0
        #expect(configuration.unsentLimit(whileRunning: 0) == 256 << 10)
        configuration.dataUnsentLimit = 0
        #expect(configuration.unsentLimit(whileRunning: 200) == 0)
    }
}
