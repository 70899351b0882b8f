import Foundation
import Logging
import NIOCore
import NIOPosix

/// Checks user names and passwords against a ``UserStore``.
///
/// Every password hash computation runs on the authenticator's own `NIOThreadPool`, so at most
/// `maxConcurrentHashes` run at once (bounding scrypt's memory use) and none runs on an event loop. Further requests
/// wait in the pool's queue.
///
/// Unknown users cost the same work as known ones: their password is verified against a dummy hash made with the
/// same algorithm, so response times do not reveal which user names exist.
///
/// Successful verifications are remembered for a short time in a ``CredentialCache`` (keyed by user, password and
/// stored hash), so repeated logins of one user pay the memory-hard hash once per time-to-live instead of every time;
/// wrong passwords and unknown users always pay it.
///
/// Call ``shutdown()`` when done; it stops the thread pool.
public final class Authenticator: Sendable {
    /// The algorithm for new hashes; stored hashes made with anything else are upgraded on a successful login.
    public let algorithm: PasswordHashAlgorithm
    /// The most hash computations that run at the same time.
    public let maxConcurrentHashes: Int

    /// Recently verified credentials.
    public let credentialCache: CredentialCache

    private let store: UserStore
    private let pool: NIOThreadPool
    private let logger: Logger
    private let dummyHash: String
    let statistics = HashStatistics()

    /// Creates an authenticator and starts its thread pool.
    ///
    /// - Parameters:
    ///   - store: The user database.
    ///   - algorithm: The algorithm for new and upgraded hashes.
    ///   - maxConcurrentHashes: The number of threads in the hashing pool (at least 1).
    ///   - credentialCache: Remembers successful verifications; pass `CredentialCache(timeToLive: .zero)` to hash on
    ///     every login.
    ///   - logger: The logger; passwords are never logged.
    public init(
        store: UserStore,
        algorithm: PasswordHashAlgorithm = .recommended,
        maxConcurrentHashes: Int = 2,
        credentialCache: CredentialCache = CredentialCache(),
        logger: Logger
    ) {
        self.store = store
        self.credentialCache = credentialCache
        self.algorithm = algorithm
        self.maxConcurrentHashes = max(1, maxConcurrentHashes)
        self.logger = logger
        // Random salt and key: no password matches, but verifying against it costs the same as a real hash.
        self.dummyHash = PasswordHasher.dummyHash(algorithm: algorithm)
        self.pool = NIOThreadPool(numberOfThreads: self.maxConcurrentHashes)
        self.pool.start()
    }

    deinit {
        // A safety net: NIOThreadPool asserts in its deinit that it was shut down. Harmless after shutdown().
        self.pool.shutdownGracefully { _ in }
    }

    /// Stops the hashing thread pool. Hash requests still queued fail; later calls to ``authenticate(name:password:)``
    /// return nil and ``hashNewPassword(_:)`` throws.
    public func shutdown() async {
        do {
            try await self.pool.shutdownGracefully()
        } catch {
            self.logger.warning("stopping the password hashing threads failed", metadata: ["error": "\(error)"])
        }
    }

    /// Checks a user name and password.
    ///
    /// On success, when the stored hash was made with another algorithm or other parameters than ``algorithm``,
    /// the password is re-hashed with ``algorithm`` and stored; a failure there is logged and does not fail the login.
    ///
    /// - Parameters:
    ///   - name: The user name as sent by the client.
    ///   - password: The password as sent by the client.
    /// - Returns: The user's record, or nil when the name is invalid or unknown, the password is wrong, or the
    ///   database failed (logged as an error). All of these take the same hashing work.
    public func authenticate(name: String, password: Password) async -> UserRecord? {
        var record: UserRecord?
        do throws(UserStoreError) {
            try UserName.validate(name)
            record = try await self.store.user(named: name)
        } catch .invalidName {
            record = nil
        } catch {
            self.logger.error("looking up a user failed", metadata: ["user": "\(name)", "error": "\(error)"])
            record = nil
        }

        var encoded = record?.passwordHash ?? self.dummyHash
        if let record, PasswordHasher.algorithm(of: record.passwordHash) == nil {
            // Logins are disabled for this user (or the row is damaged); still spend the usual work.
            self.logger.warning("stored password hash is not usable", metadata: ["user": "\(record.name)"])
            encoded = self.dummyHash
        }
        let matches: Bool
        if let record, encoded == record.passwordHash {
            let stored = encoded
            matches = await self.credentialCache.verify(user: record.name, password: password, storedHash: stored) {
                await self.verifyOnPool(password, against: stored)
            }
        } else {
            matches = await self.verifyOnPool(password, against: encoded)
        }

        guard var record, matches, encoded == record.passwordHash else {
            self.logger.debug("authentication failed", metadata: ["user": "\(name)"])
            return nil
        }
        if PasswordHasher.algorithm(of: record.passwordHash) != self.algorithm {
            if let upgraded = await self.upgradeHash(of: record, password: password) {
                record.passwordHash = upgraded
            }
        }
        return record
    }

    /// Hashes a new password with ``algorithm`` on the hashing pool, e.g. for the admin commands.
    ///
    /// - Parameter password: The new password.
    /// - Returns: The encoded hash to store with ``UserStore/add(name:passwordHash:home:quotaBytes:quotaFiles:)`` or
    ///   ``UserStore/setPasswordHash(name:hash:)``.
    /// - Throws: ``PasswordHashError``, or an error when the pool has been shut down or the task is cancelled.
    public func hashNewPassword(_ password: Password) async throws -> String {
        let algorithm = self.algorithm
        let statistics = self.statistics
        return try await self.pool.runIfActive {
            try statistics.measure(isVerification: false) {
                try PasswordHasher.hash(password, algorithm: algorithm)
            }
        }
    }

    // MARK: Private

    private func verifyOnPool(_ password: Password, against encoded: String) async -> Bool {
        let statistics = self.statistics
        do {
            return try await self.pool.runIfActive {
                statistics.measure(isVerification: true) {
                    PasswordHasher.verify(password, against: encoded)
                }
            }
        } catch {
            // Pool shut down or task cancelled: the login fails.
            self.logger.debug("password verification did not run", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Re-hashes the password with the current algorithm and stores it, unless the hash changed meanwhile.
    private func upgradeHash(of record: UserRecord, password: Password) async -> String? {
        let old = PasswordHasher.algorithm(of: record.passwordHash).map { "\($0)" } ?? "unknown"
        do {
            let new = try await self.hashNewPassword(password)
            guard try await self.store.replacePasswordHash(name: record.name, old: record.passwordHash, new: new)
            else {
                return nil
            }
            self.logger.notice(
                "upgraded stored password hash",
                metadata: ["user": "\(record.name)", "from": "\(old)", "to": "\(self.algorithm)"]
            )
            return new
        } catch {
            self.logger.error(
                "upgrading stored password hash failed",
                metadata: ["user": "\(record.name)", "error": "\(error)"]
            )
            return nil
        }
    }
}

/// Counts hash computations, for tests and diagnostics.
final class HashStatistics: @unchecked Sendable {
    private let lock = NSLock()
    private var _verifications = 0
    private var _hashes = 0
    private var _running = 0
    private var _peakRunning = 0

    /// The verifications done so far (including those against the dummy hash).
    var verifications: Int { self.lock.withLock { self._verifications } }
    /// The new hashes made so far (including upgrades).
    var hashes: Int { self.lock.withLock { self._hashes } }
    /// The most computations that ever ran at the same time.
    var peakRunning: Int { self.lock.withLock { self._peakRunning } }

    func measure<T>(isVerification: Bool, _ body: () throws -> T) rethrows -> T {
        self.lock.withLock {
            if isVerification {
                self._verifications += 1
            } else {
                self._hashes += 1
            }
            self._running += 1
            self._peakRunning = max(self._peakRunning, self._running)
        }
        defer {
            self.lock.withLock { self._running -= 1 }
        }
        return try body()
    }
}
