import Foundation
import Logging

@testable import FerryUsers

/// Cheap scrypt parameters (1 MiB) so debug-build tests stay fast.
let cheapScrypt = PasswordHashAlgorithm.scrypt(logN: 10, r: 8, p: 1)
/// Cheap PBKDF2 parameters, below the 210k minimum of the checked API.
let cheapPBKDF2 = PasswordHashAlgorithm.pbkdf2SHA256(rounds: 1_000)

/// Runs `body` with a fresh temporary directory that is removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("FerryUsersTests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer {
        try? FileManager.default.removeItem(atPath: directory)
    }
    return try await body(directory)
}

/// Runs `body` with a store in a temporary directory.
func withStore<T>(_ body: (UserStore, String) async throws -> T) async throws -> T {
    try await withTemporaryDirectory { directory in
        let path = "\(directory)/users.sqlite"
        let store = try UserStore(path: path)
        return try await body(store, path)
    }
}

/// Runs `body` with an authenticator over a fresh store; shuts the authenticator down afterwards.
func withAuthenticator<T>(
    algorithm: PasswordHashAlgorithm = cheapScrypt,
    maxConcurrentHashes: Int = 2,
    maxQueuedHashes: Int = 64,
    credentialCache: CredentialCache = CredentialCache(),
    _ body: (Authenticator, UserStore, LogCapture) async throws -> T
) async throws -> T {
    try await withStore { store, _ in
        let capture = LogCapture()
        let logger = Logger(label: "FerryUsersTests") { label in CapturingLogHandler(capture: capture) }
        let authenticator = Authenticator(
            store: store,
            algorithm: algorithm,
            maxConcurrentHashes: maxConcurrentHashes,
            maxQueuedHashes: maxQueuedHashes,
            credentialCache: credentialCache,
            logger: logger
        )
        do {
            let result = try await body(authenticator, store, capture)
            await authenticator.shutdown()
            return result
        } catch {
            await authenticator.shutdown()
            throw error
        }
    }
}

/// Collects every log line (message and metadata) so tests can inspect them.
final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var _lines: [String] = []

    var lines: [String] { self.lock.withLock { self._lines } }

    func append(_ line: String) {
        self.lock.withLock { self._lines.append(line) }
    }
}

struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = self.metadata.merging(event.metadata ?? [:]) { $1 }
        self.capture.append("\(event.level) \(event.message) \(merged)")
    }
}
