import FerryProtocol
import FerryUsers
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// The FTP server as a ServiceLifecycle service: `run()` accepts sessions until a graceful shutdown
/// (SIGTERM/SIGINT via `ServiceGroup`) or cancellation.
///
/// Shutdown stops accepting at once, closes idle sessions with 421, lets transfers in flight finish for
/// `shutdownGracePeriod`, then closes whatever is left.
public final class FTPServer: Service, Sendable {
    let context: ServerContext
    private let listening: EventLoopPromise<SocketAddress>

    public init(
        configuration: ServerConfiguration,
        store: UserStore,
        authenticator: Authenticator,
        logger: Logger,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        fileIO: NIOThreadPool = .singleton
    ) {
        self.context = ServerContext(
            configuration: configuration,
            store: store,
            authenticator: authenticator,
            logger: logger,
            group: group,
            fileIO: fileIO
        )
        self.listening = group.next().makePromise(of: SocketAddress.self)
    }

    /// The bound address, once listening (port 0 becomes the real port).
    public var localAddress: SocketAddress {
        get async throws { try await self.listening.futureResult.get() }
    }

    public func run() async throws {
        let configuration = self.context.configuration
        let logger = self.context.logger
        // The default home folder must exist before the first login creates a home in it.
        _ = mkdir(configuration.dataDirectory, 0o700)
        _ = mkdir(configuration.homesDirectory, 0o755)
        if configuration.reconcileUsageAtStartup {
            try await HomeUsage.reconcile(
                store: self.context.store,
                dataDirectory: configuration.dataDirectory,
                logger: logger
            )
        }

        let maximumLineLength = configuration.maximumLineLength
        let server: NIOAsyncChannel<ControlChannel, Never>
        do {
            server = try await ServerBootstrap(group: self.context.group)
                .serverChannelOption(.backlog, value: configuration.backlog)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .bind(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(FTPLineDecoder(maximumLineLength: maximumLineLength))
                        )
                        return try ControlChannel(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8))
                        )
                    }
                }
        } catch {
            self.listening.fail(error)
            throw error
        }
        let address = server.channel.localAddress!
        self.listening.succeed(address)
        logger.info("listening", metadata: ["address": "\(address)"])

        let context = self.context
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask {
                            // Each session catches its own errors: one client never takes the server down.
                            let address = connection.channel.remoteAddress?.ipAddress ?? "?"
                            let admission = context.abuseGuard.admitConnection(from: address)
                            do {
                                try await connection.executeThenClose { input, _ in
                                    guard admission == .admitted else {
                                        if case .refused(let text) = admission {
                                            logger.notice(
                                                "connection refused",
                                                metadata: ["peer": "\(address)", "reason": "\(text)"]
                                            )
                                            await Session.send(
                                                FTPReply(.serviceNotAvailable, text),
                                                on: connection.channel
                                            )
                                        }
                                        return
                                    }
                                    defer { context.abuseGuard.connectionClosed(from: address) }
                                    let session = Session(context: context, control: connection)
                                    await session.run(inbound: input)
                                }
                            } catch {
                                logger.debug("session ended with error", metadata: ["error": "\(error)"])
                            }
                        }
                    }
                }
                // Not accepting any more: wait for the sessions (the discarding group) to end.
            }
        } onGracefulShutdown: {
            logger.info("shutting down: no new connections, finishing transfers")
            server.channel.close(promise: nil)
            for session in context.registry.beginShutdown() { session.requestShutdown() }
            // Whatever still runs after the grace period is closed.
            let grace = TimeAmount(configuration.shutdownGracePeriod)
            context.group.next().scheduleTask(in: grace) {
                for session in context.registry.beginShutdown() { session.channel.close(promise: nil) }
            }
        }
        logger.info("stopped")
    }
}
