import FerryServer
import FerryUsers
import Foundation
import Logging
import NIOCore
import ServiceLifecycle

/// A real ferryd server, in process, on a port the kernel picks, with its own data folder and users.
///
/// Users get cheap scrypt parameters so that logins stay fast in debug builds; the hashing code path is the
/// production one.
public final class TestServer: Sendable {
    public static let cheapHash = PasswordHashAlgorithm.scrypt(logN: 10, r: 8, p: 1)

    public let port: Int
    /// The implicit-FTPS port, when the test configured one.
    public let implicitTLSPort: Int?
    /// The SHA-256 fingerprint of the served certificate.
    public let fingerprint: String?
    public let host: String
    public let dataDirectory: String
    public let homes: [String: String]
    public let store: UserStore
    /// The server's `transfer` log lines, so tests can see how a transfer was done.
    public let transfers: TransferLog
    private let group: ServiceGroup
    private let task: Task<Void, Error>
    private let authenticator: Authenticator

    /// Users every test server has: name and password.
    public static let defaultUsers = [("alice", "alice-secret"), ("bob", "bob-secret"), ("carol", "carol-secret")]

    private init(
        port: Int,
        implicitTLSPort: Int?,
        fingerprint: String?,
        host: String,
        dataDirectory: String,
        homes: [String: String],
        store: UserStore,
        transfers: TransferLog,
        group: ServiceGroup,
        task: Task<Void, Error>,
        authenticator: Authenticator
    ) {
        self.transfers = transfers
        self.port = port
        self.implicitTLSPort = implicitTLSPort
        self.fingerprint = fingerprint
        self.host = host
        self.dataDirectory = dataDirectory
        self.homes = homes
        self.store = store
        self.group = group
        self.task = task
        self.authenticator = authenticator
    }

    /// A user's limits in a test: bytes and files, nil meaning unlimited.
    public struct Quota: Sendable {
        public var bytes: Int64?
        public var files: Int64? = nil

        public init(bytes: Int64?, files: Int64? = nil) {
            self.bytes = bytes
            self.files = files
        }
    }

    public static func start(
        host: String = "127.0.0.1",
        users: [(String, String)] = TestServer.defaultUsers,
        quotas: [String: Quota] = [:],
        homes: [String: String] = [:],
        configure: (inout ServerConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("ferry-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = 0
        configuration.dataDirectory = directory
        configuration.passwordAlgorithm = Self.cheapHash
        configuration.failedLoginDelay = .milliseconds(50)
        configure(&configuration)

        let transfers = TransferLog()
        let verbose = ProcessInfo.processInfo.environment["FERRY_TEST_LOG"] != nil
        // Not `logger.logLevel = …`: that would set the level of every handler of the multiplex.
        let logger = Logger(label: "ferryd-test") { label in
            MultiplexLogHandler([
                TransferLog.Handler(log: transfers),
                {
                    var printed = StreamLogHandler.standardError(label: label)
                    printed.logLevel = verbose ? .debug : .critical
                    return printed
                }(),
            ])
        }
        let store = try UserStore(path: configuration.databasePath)
        for (name, password) in users {
            let hash = try PasswordHasher.hash(Password(password), algorithm: Self.cheapHash)
            _ = try await store.add(
                name: name,
                passwordHash: hash,
                home: homes[name],
                quotaBytes: quotas[name]?.bytes,
                quotaFiles: quotas[name]?.files
            )
            try FileManager.default.createDirectory(
                atPath: homes[name] ?? directory + "/homes/" + name,
                withIntermediateDirectories: true
            )
        }
        let authenticator = Authenticator(store: store, algorithm: Self.cheapHash, logger: logger)
        let server = try FTPServer(
            configuration: configuration,
            store: store,
            authenticator: authenticator,
            logger: logger
        )
        let group = ServiceGroup(services: [server], logger: logger)
        let task = Task { try await group.run() }
        let address = try await server.localAddress
        let implicitAddress = try await server.implicitTLSAddress
        return TestServer(
            port: address.port!,
            implicitTLSPort: implicitAddress?.port,
            fingerprint: server.tlsFingerprint,
            host: host,
            dataDirectory: directory,
            homes: homes,
            store: store,
            transfers: transfers,
            group: group,
            task: task,
            authenticator: authenticator
        )
    }

    public func home(_ user: String) -> String { self.homes[user] ?? self.dataDirectory + "/homes/" + user }

    /// Graceful shutdown (the SIGTERM path), then the data folder is removed.
    public func stop() async {
        await self.group.triggerGracefulShutdown()
        _ = try? await self.task.value
        await self.authenticator.shutdown()
        try? FileManager.default.removeItem(atPath: self.dataDirectory)
    }
}

/// Runs a test body against a fresh server and always stops it.
public func withServer(
    host: String = "127.0.0.1",
    users: [(String, String)] = TestServer.defaultUsers,
    quotas: [String: TestServer.Quota] = [:],
    homes: [String: String] = [:],
    configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (TestServer) async throws -> Void
) async throws {
    let server = try await TestServer.start(
        host: host,
        users: users,
        quotas: quotas,
        homes: homes,
        configure: configure
    )
    do {
        try await body(server)
    } catch {
        await server.stop()
        throw error
    }
    await server.stop()
}
