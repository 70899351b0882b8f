import FerryNIO
import FerryProtocol
import FerryTLS
import FerryUsers
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// The FTP server as a ServiceLifecycle service: `run()` accepts sessions until a graceful shutdown
/// (SIGTERM/SIGINT via `ServiceGroup`) or cancellation.
///
/// It listens on the control port (plain FTP with explicit FTPS via AUTH TLS) and, if configured, on an
/// implicit-FTPS port where TLS starts with the first byte. Shutdown stops accepting at once, closes idle
/// sessions with 421, lets transfers in flight finish for `shutdownGracePeriod`, then closes whatever is left.
public final class FTPServer: Service, Sendable {
    let context: ServerContext
    private let listening: EventLoopPromise<SocketAddress>
    private let implicitListening: EventLoopPromise<SocketAddress?>

    /// The SHA-256 fingerprint of the certificate served (nil when FTPS is off).
    public var tlsFingerprint: String? { self.context.tls?.certificate.sha256Fingerprint }
    /// True when this start generated the self-signed certificate (so the operator should be shown it).
    public let generatedCertificate: Bool

    /// Prepares the server. Loads (or, on first use, generates) the TLS certificate, so this blocks briefly on
    /// disk: call it at start-up.
    public init(
        configuration: ServerConfiguration,
        store: UserStore,
        authenticator: Authenticator,
        logger: Logger,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        fileIO: NIOThreadPool = .singleton
    ) throws {
        var tls: TLSContextProvider? = nil
        var generated = false
        if configuration.tls != .off {
            let (certificate, created) = try Self.loadCertificate(configuration)
            tls = try TLSContextProvider(certificate: certificate, logger: logger)
            generated = created
        }
        self.generatedCertificate = generated
        self.context = ServerContext(
            configuration: configuration,
            store: store,
            authenticator: authenticator,
            logger: logger,
            group: group,
            fileIO: fileIO,
            tls: tls
        )
        self.listening = group.next().makePromise(of: SocketAddress.self)
        self.implicitListening = group.next().makePromise(of: SocketAddress?.self)
    }

    static func loadCertificate(_ configuration: ServerConfiguration) throws -> (ServerCertificate, Bool) {
        if let certificatePath = configuration.tlsCertificatePath, let keyPath = configuration.tlsKeyPath {
            return (try ServerCertificate.loadPEM(certificatePath: certificatePath, keyPath: keyPath), false)
        }
        _ = mkdir(configuration.dataDirectory, 0o700)
        let (certificate, created) = try ServerCertificate.loadOrCreate(in: configuration.dataDirectory)
        return (certificate, created)
    }

    /// Re-reads the certificate and key (SIGHUP). Sessions already running keep their TLS context; new
    /// handshakes use the new certificate. Blocking: call it off the event loops.
    public func reloadCertificate() throws {
        guard let provider = self.context.tls else { return }
        let (certificate, _) = try Self.loadCertificate(self.context.configuration)
        try provider.reload(from: certificate)
        self.context.logger.notice("certificate reloaded", metadata: ["sha256": "\(certificate.sha256Fingerprint)"])
    }

    /// The bound control address, once listening (port 0 becomes the real port).
    public var localAddress: SocketAddress {
        get async throws { try await self.listening.futureResult.get() }
    }

    /// The bound implicit-FTPS address, once listening (nil when not configured).
    public var implicitTLSAddress: SocketAddress? {
        get async throws { try await self.implicitListening.futureResult.get() }
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

        let plain: NIOAsyncChannel<ControlConnection, Never>
        let implicit: NIOAsyncChannel<ControlConnection, Never>?
        do {
            plain = try await self.bind(port: configuration.port, tls: nil)
            if let port = configuration.implicitTLSPort, let provider = self.context.tls {
                implicit = try await self.bind(port: port, tls: provider)
            } else {
                implicit = nil
            }
        } catch {
            self.listening.fail(error)
            self.implicitListening.fail(error)
            throw error
        }
        let address = plain.channel.localAddress!
        self.listening.succeed(address)
        self.implicitListening.succeed(implicit?.channel.localAddress)
        logger.info("listening", metadata: ["address": "\(address)"])
        if let implicit {
            logger.info("listening (implicit FTPS)", metadata: ["address": "\(implicit.channel.localAddress!)"])
        }

        let context = self.context
        context.directUploads.start()
        do {
            try await self.serve(plain: plain, implicit: implicit)
        } catch {
            await context.directUploads.shutdown()
            await context.bulkIO.shutdown()
            throw error
        }
        await context.directUploads.shutdown()
        await context.bulkIO.shutdown()
        logger.info("stopped")
    }

    /// Accepts sessions on the bound listeners until a graceful shutdown.
    private func serve(
        plain: NIOAsyncChannel<ControlConnection, Never>,
        implicit: NIOAsyncChannel<ControlConnection, Never>?
    ) async throws {
        let configuration = self.context.configuration
        let logger = self.context.logger
        let context = self.context
        try await withGracefulShutdownHandler {
            // The accept loops run on their listeners' event loops, like the sessions: the server never waits for
            // Swift's global pool, which other code in the process may keep busy.
            try await withThrowingDiscardingTaskGroup { group in
                if let implicit, let provider = context.tls {
                    group.addTask(executorPreference: EventLoopTaskExecutor(implicit.channel.eventLoop)) {
                        try await Self.accept(on: implicit, context: context, implicitTLS: provider)
                    }
                }
                group.addTask(executorPreference: EventLoopTaskExecutor(plain.channel.eventLoop)) {
                    try await Self.accept(on: plain, context: context, implicitTLS: nil)
                }
                // Ends by itself once the shutdown begins.
                let watcherLoop = plain.channel.eventLoop
                group.addTask(executorPreference: EventLoopTaskExecutor(watcherLoop)) {
                    await AccountWatcher(context: context, interval: configuration.accountCheckInterval)
                        .run(on: watcherLoop)
                }
                // Not accepting any more once both loops end: the discarding groups wait for the sessions.
            }
        } onGracefulShutdown: {
            logger.info("shutting down: no new connections, finishing transfers")
            plain.channel.close(promise: nil)
            implicit?.channel.close(promise: nil)
            for session in context.registry.beginShutdown() { session.requestShutdown() }
            // Whatever still runs after the grace period is closed.
            let grace = TimeAmount(configuration.shutdownGracePeriod)
            context.group.next().scheduleTask(in: grace) {
                for session in context.registry.beginShutdown() { session.channel.close(promise: nil) }
            }
        }
    }

    /// A listener whose connections carry control lines; with `tls`, TLS starts with the first byte.
    private func bind(port: Int, tls: TLSContextProvider?) async throws -> NIOAsyncChannel<ControlConnection, Never> {
        let configuration = self.context.configuration
        let maximumLineLength = configuration.maximumLineLength
        return try await ServerBootstrap(group: self.context.group)
            .serverChannelOption(.backlog, value: configuration.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // Urgent data stays in the stream. Python's ftplib sends `ABOR\r\n` as urgent data: without this the
            // kernel takes its last byte out of the stream, the line never ends and the client hangs (vsftpd sets
            // it too). Telnet's Synch (`IAC IP IAC DM`) then arrives whole and the line decoder drops it.
            .childChannelOption(.socketOption(.init(rawValue: SO_OOBINLINE)), value: 1)
            .bind(host: configuration.host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(tls.makeServerHandler()) }
                    return try ControlConnection.configure(channel, maximumLineLength: maximumLineLength)
                }
            }
    }

    /// Accepts connections until the listener closes; each becomes a session in its own task.
    private static func accept(
        on listener: NIOAsyncChannel<ControlConnection, Never>,
        context: ServerContext,
        implicitTLS: TLSContextProvider?
    ) async throws {
        let logger = context.logger
        try await withThrowingDiscardingTaskGroup { group in
            try await listener.executeThenClose { inbound in
                for try await connection in inbound {
                    // The session's TLS context on the implicit port: the one its handshake uses.
                    let sessionTLS = implicitTLS?.context
                    let executor = EventLoopTaskExecutor(connection.channel.eventLoop)
                    group.addTask(executorPreference: executor) {
                        // Each session catches its own errors: one client never takes the server down.
                        let address =
                            connection.channel.remoteAddress.flatMap {
                                ClientAddress($0, ipv6PrefixLength: context.configuration.ipv6PrefixLength)
                            } ?? ClientAddress(key: "?")
                        // The operator's own machine (loopback by default) is not rate limited: local tools and
                        // benchmarks open bursts of connections on purpose.
                        let local = connection.channel.remoteAddress.map(context.configuration.isLocal) ?? false
                        let admission = context.abuseGuard.admitConnection(from: address, rateLimited: !local)
                        defer { connection.channel.close(promise: nil) }
                        guard admission == .admitted else {
                            if case .refused(let text) = admission {
                                logger.notice(
                                    "connection refused",
                                    metadata: ["peer": "\(address)", "reason": "\(text)"]
                                )
                                await Session.send(FTPReply(.serviceNotAvailable, text), on: connection.channel)
                            }
                            return
                        }
                        defer { context.abuseGuard.connectionClosed(from: address) }
                        let session = Session(
                            context: context,
                            control: connection,
                            executor: executor,
                            implicitTLS: sessionTLS
                        )
                        await session.run()
                    }
                }
            }
        }
    }
}
