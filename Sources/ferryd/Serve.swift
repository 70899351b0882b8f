import ArgumentParser
import FerryProtocol
import FerryServer
import FerryUsers
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

extension Ferryd {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the FTP server (the default command).")

        @OptionGroup var dataOptions: DataOptions

        @Option(help: "Address to listen on (e.g. 127.0.0.1, ::1, 0.0.0.0).")
        var host: String = "127.0.0.1"

        @Option(help: "Control connection port (0 picks a free port).")
        var port: Int = 2121

        @Option(name: .customLong("passive-ports"), help: "Port range for passive data connections, LO-HI.")
        var passivePorts: String?

        @Option(name: .customLong("passive-address"), help: "IPv4 address announced in PASV replies (for NAT).")
        var passiveAddress: String?

        @Option(
            name: .customLong("passive-linger"),
            help: "Seconds a session keeps its passive port open for the next PASV/EPSV (0: close after each transfer)."
        )
        var passiveLinger: Double = 2

        @Option(name: .customLong("idle-timeout"), help: "Seconds of silence before a session is closed.")
        var idleTimeout: Int = 300

        @Option(name: .customLong("max-connections"), help: "Most connections at once.")
        var maxConnections: Int = 10_000

        @Option(name: .customLong("max-connections-per-ip"), help: "Most connections at once from one IP address.")
        var maxConnectionsPerIP: Int = 64

        @Option(name: .customLong("max-sessions-per-user"), help: "Most logged-in sessions at once of one user.")
        var maxSessionsPerUser: Int = 32

        @Option(
            name: .customLong("max-connection-rate-per-ip"),
            help: "New connections per second from one IP address (IPv6: one /64), bursts of 4x (0: no limit)."
        )
        var maxConnectionRatePerIP: Double = 50

        @Option(
            name: .customLong("max-queued-logins"),
            help: "Logins that may wait for a password check at once; more get 421 (each check is a memory-hard hash)."
        )
        var maxQueuedLogins: Int = 64

        @Option(name: .customLong("ban-after"), help: "Failed logins from one address before it is banned.")
        var banAfter: Int = 10

        @Option(name: .customLong("ban-time"), help: "Seconds an address stays banned.")
        var banTime: Int = 900

        @Option(
            help: """
                FTPS policy: auto (TLS required for clients not on loopback, optional on loopback), \
                required, optional or off.
                """
        )
        var tls: String = "auto"

        @Option(name: .customLong("tls-data"), help: "required: refuse transfers on clear (PROT C) data connections.")
        var tlsData: String = "optional"

        @Option(
            name: .customLong("tls-cert"),
            help: "PEM certificate chain (leaf first). Default: self-signed in the data folder."
        )
        var tlsCert: String?

        @Option(name: .customLong("tls-key"), help: "PEM private key for --tls-cert.")
        var tlsKey: String?

        @Option(
            name: .customLong("implicit-tls-port"),
            help: "Also listen for implicit FTPS (TLS from the first byte) on this port."
        )
        var implicitTLSPort: Int?

        @Flag(
            name: .customLong("hash-uploads"),
            help: "Record SHA-256 while receiving every upload, so a later HASH is instant (costs CPU per upload)."
        )
        var hashUploads = false

        @Flag(
            name: .customLong("unsafe-no-fsync"),
            help: """
                Do not fsync uploads before they become visible (scratch servers only: after a power loss an \
                acknowledged upload may come back empty).
                """
        )
        var unsafeNoFsync = false

        @Option(
            name: .customLong("direct-uploads"),
            help: """
                Plain binary uploads received with splice(2) at once, each on its own thread; more use the event \
                loop (0: none).
                """
        )
        var directUploads: Int = 8

        @Option(
            name: .customLong("credential-cache-ttl"),
            help:
                "Seconds a verified password is remembered, so repeat logins skip the scrypt hash (0: hash every login)."
        )
        var credentialCacheTTL: Int = 300

        @Option(
            name: .customLong("io-threads"),
            help: "Threads for the sessions' file operations (opens, listings, writes, commits)."
        )
        var ioThreads: Int = 16

        @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
        var logLevel: String = "info"

        func validate() throws {
            guard (0...65535).contains(self.port) else { throw ValidationError("--port must be 0-65535") }
            // Durations are bounded: a huge value would overflow the deadline arithmetic (nanoseconds in an Int64).
            guard (1...31_536_000).contains(self.idleTimeout) else {
                throw ValidationError("--idle-timeout must be between 1 and 31536000 seconds (a year)")
            }
            guard (1...31_536_000).contains(self.banTime) else {
                throw ValidationError("--ban-time must be between 1 and 31536000 seconds (a year)")
            }
            guard (0...31_536_000).contains(self.credentialCacheTTL) else {
                throw ValidationError("--credential-cache-ttl must be between 0 and 31536000 seconds")
            }
            guard self.maxConnectionRatePerIP >= 0, self.maxConnectionRatePerIP <= 1_000_000 else {
                throw ValidationError("--max-connection-rate-per-ip must be between 0 and 1000000")
            }
            guard (1...1024).contains(self.ioThreads) else {
                throw ValidationError("--io-threads must be between 1 and 1024")
            }
            guard (1...1_000_000).contains(self.maxQueuedLogins) else {
                throw ValidationError("--max-queued-logins must be between 1 and 1000000")
            }
            for (flag, value) in [
                ("--max-connections", self.maxConnections), ("--max-connections-per-ip", self.maxConnectionsPerIP),
                ("--max-sessions-per-user", self.maxSessionsPerUser), ("--ban-after", self.banAfter),
                ("--ban-time", self.banTime),
            ] where value < 1 {
                throw ValidationError("\(flag) must be at least 1")
            }
            guard (0...1024).contains(self.directUploads) else {
                throw ValidationError("--direct-uploads must be between 0 and 1024")
            }
            guard self.passiveLinger >= 0, self.passiveLinger <= 3600 else {
                throw ValidationError("--passive-linger must be between 0 and 3600 seconds")
            }
            if let passivePorts { _ = try Self.parsePortRange(passivePorts) }
            if let passiveAddress, passiveAddress.split(separator: ".").compactMap({ UInt8($0) }).count != 4 {
                throw ValidationError("--passive-address must be an IPv4 address such as 203.0.113.7")
            }
            guard Self.tlsPolicy(self.tls) != nil else {
                throw ValidationError("--tls must be one of auto, required, optional, off")
            }
            guard ServerConfiguration.DataProtectionPolicy(rawValue: self.tlsData) != nil else {
                throw ValidationError("--tls-data must be required or optional")
            }
            guard (self.tlsCert == nil) == (self.tlsKey == nil) else {
                throw ValidationError("--tls-cert and --tls-key go together")
            }
            if let implicitTLSPort, !(0...65535).contains(implicitTLSPort) {
                throw ValidationError("--implicit-tls-port must be 0-65535")
            }
            guard Logger.Level(rawValue: self.logLevel) != nil else {
                throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
            }
        }

        static func tlsPolicy(_ text: String) -> ServerConfiguration.TLSPolicy? {
            text == "auto" ? .automatic : ServerConfiguration.TLSPolicy(rawValue: text)
        }

        static func parsePortRange(_ text: String) throws -> ClosedRange<Int> {
            let parts = text.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 2, let low = parts[0], let high = parts[1], 1024 <= low, low <= high, high <= 65535
            else {
                throw ValidationError("--passive-ports must be LO-HI with 1024 <= LO <= HI <= 65535, e.g. 30000-30999")
            }
            return low...high
        }

        func run() async throws {
            let level = Logger.Level(rawValue: self.logLevel) ?? .info
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            let logger = Logger(label: "ferryd")

            var configuration = ServerConfiguration()
            configuration.host = self.host
            configuration.port = self.port
            configuration.dataDirectory = self.dataOptions.data
            configuration.passivePorts = try self.passivePorts.map(Self.parsePortRange)
            configuration.passiveAddress = self.passiveAddress
            configuration.passivePortLinger = .milliseconds(Int64((self.passiveLinger * 1000).rounded()))
            configuration.idleTimeout = .seconds(self.idleTimeout)
            configuration.maximumConnections = self.maxConnections
            configuration.maximumConnectionsPerAddress = self.maxConnectionsPerIP
            configuration.maximumSessionsPerUser = self.maxSessionsPerUser
            configuration.failuresBeforeBan = self.banAfter
            configuration.banDuration = .seconds(self.banTime)
            configuration.maximumConnectionRatePerAddress = self.maxConnectionRatePerIP
            configuration.connectionBurstPerAddress = self.maxConnectionRatePerIP * 4
            configuration.maximumQueuedHashes = self.maxQueuedLogins
            configuration.tls = Self.tlsPolicy(self.tls) ?? .automatic
            configuration.tlsData = ServerConfiguration.DataProtectionPolicy(rawValue: self.tlsData) ?? .optional
            configuration.tlsCertificatePath = self.tlsCert
            configuration.tlsKeyPath = self.tlsKey
            configuration.implicitTLSPort = self.implicitTLSPort
            configuration.hashUploads = self.hashUploads
            configuration.durableUploads = !self.unsafeNoFsync
            configuration.directUploadThreads = self.directUploads

            // The soft limit of open descriptors is often 1024; the connections promised must fit in it.
            let descriptors = DescriptorLimit.raiseToHardLimit()
            let fitting = DescriptorLimit.connections(fitting: descriptors)
            if configuration.maximumConnections > fitting {
                logger.warning(
                    "--max-connections lowered to what the open-file limit allows",
                    metadata: [
                        "requested": "\(configuration.maximumConnections)", "allowed": "\(fitting)",
                        "open-file limit": "\(descriptors)",
                        "hint": "raise it with ulimit -n or LimitNOFILE= in systemd",
                    ]
                )
                configuration.maximumConnections = fitting
            }

            let store = try openStore(self.dataOptions)
            let authenticator = Authenticator(
                store: store,
                algorithm: configuration.passwordAlgorithm,
                maxConcurrentHashes: configuration.maximumConcurrentHashes,
                maxQueuedHashes: configuration.maximumQueuedHashes,
                credentialCache: CredentialCache(timeToLive: .seconds(self.credentialCacheTTL)),
                logger: logger
            )
            try await Self.createDemoUserIfEmpty(
                store: store,
                authenticator: authenticator,
                configuration: configuration
            )

            // The file I/O threads of every session (opens, listings, writes, commits). NIO's shared pool has one
            // thread per core: two users reading huge directories would hold all of it and every other user's CWD
            // or commit would wait. Checksums and copies have threads of their own (BulkIO).
            let fileIO = NIOThreadPool(numberOfThreads: self.ioThreads)
            fileIO.start()
            let server: FTPServer
            do {
                server = try FTPServer(
                    configuration: configuration,
                    store: store,
                    authenticator: authenticator,
                    logger: logger,
                    fileIO: fileIO
                )
            } catch {
                throw CLIError("cannot set up TLS: \(error)")
            }
            if let fingerprint = server.tlsFingerprint {
                let origin =
                    configuration.tlsCertificatePath
                    ?? "\(configuration.dataDirectory)/tls/cert.pem (self-signed\(server.generatedCertificate ? ", new" : ""))"
                let message = "TLS certificate: \(origin)\nSHA-256 fingerprint: \(fingerprint)\n"
                FileHandle.standardOutput.write(Data(message.utf8))
            }
            let group = ServiceGroup(
                configuration: .init(
                    services: [
                        .init(service: server), .init(service: CertificateReloader(server: server, logger: logger)),
                    ],
                    gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: logger
                )
            )
            try await group.run()
            await authenticator.shutdown()
            try? await fileIO.shutdownGracefully()
        }

        /// First start: a `demo` user with a random password, printed once, so a newcomer can connect at once.
        static func createDemoUserIfEmpty(
            store: UserStore,
            authenticator: Authenticator,
            configuration: ServerConfiguration
        ) async throws {
            guard try await store.isEmpty() else { return }
            let password = randomPassword()
            let hash = try await authenticator.hashNewPassword(Password(password))
            let defaults = try await store.defaultQuota()
            try await store.add(
                name: "demo",
                passwordHash: hash,
                home: nil,
                quotaBytes: defaults.bytes,
                quotaFiles: defaults.files
            )
            let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
            let message = """
                No users yet: created user 'demo' with home \(configuration.homesDirectory)/demo
                demo password: \(password)
                Try: curl -u demo:\(password) ftp://\(host):\(configuration.port)/
                (shown only once; change it with: ferryd user passwd demo --data \(configuration.dataDirectory))

                """
            // Written unbuffered: the operator needs to see it while the server runs.
            FileHandle.standardOutput.write(Data(message.utf8))
        }

        static func randomPassword() -> String {
            let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
            var generator = SystemRandomNumberGenerator()
            return String((0..<20).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
        }
    }
}

/// Opens the user store in the data folder, creating the folder on first use.
func openStore(_ options: DataOptions) throws -> UserStore {
    _ = mkdir(options.data, 0o700)
    do {
        return try UserStore(path: options.databasePath)
    } catch {
        throw CLIError("cannot open the user store at \(options.databasePath): \(error)")
    }
}

/// Reloads the TLS certificate on SIGHUP, without dropping sessions.
struct CertificateReloader: Service {
    let server: FTPServer
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                do {
                    try self.server.reloadCertificate()
                } catch {
                    self.logger.error("certificate reload failed; keeping the old one", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
