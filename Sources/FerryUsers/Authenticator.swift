import Foundation
import Logging
import NIOConcurrencyHelpers
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
    /// The most logins that may wait for (or run) a hash at once; `login` answers `.busy` beyond it.
    public let maxQueuedHashes: Int
    private let queue = NIOLockedValueBox(0)

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
        maxQueuedHashes: Int = 64,
        credentialCache: CredentialCache = CredentialCache(),
        logger: Logger
    ) {
        self.store = store
        self.credentialCache = credentialCache
        self.algorithm = algorithm
        self.maxConcurrentHashes = max(1, maxConcurrentHashes)
        self.maxQueuedHashes = max(1, maxQueuedHashes)
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

    /// What a login attempt came to.
    public enum LoginOutcome: Sendable {
        case success(UserRecord)
        /// Wrong password, unknown or invalid name, or a database failure. `knownUser` tells whether the name is a
        /// user's, for the operator's log only (people type passwords into USER; unknown names are not logged).
        case failure(knownUser: Bool)
        /// `maxQueuedHashes` logins already wait for a hash: this one was not checked (the client should retry).
        case busy
    }

    /// Checks a user name and password, unless too many logins already wait for the hashing threads.
    public func login(name: String, password: Password) async -> LoginOutcome {
        let admitted = self.queue.withLockedValue { waiting in
            guard waiting < self.maxQueuedHashes else { return false }
            waiting += 1
            return true
        }
        guard admitted else { return .busy }
        defer { self.queue.withLockedValue { $0 -= 1 } }
        return await self.check(name: name, password: password)
    }

    /// Checks a user name and password (not bounded by `maxQueuedHashes`; sessions use `login`).
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
        if case .success(let record) = await self.check(name: name, password: password) { return record }
        return nil
    }

    private func check(name: String, password: Password) async -> LoginOutcome {
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
        // SECURITY: every check goes through the cache, known user or not. The cache lets identical checks that
        // arrive together share one hash; if only known users' did, a burst of identical wrong guesses would come
        // back faster for a name that exists (timing enumeration). Unknown names are checked against the dummy
        // hash under their own name, which never matches, so nothing about them is ever remembered.
        let stored = encoded
        let matches = await self.credentialCache.verify(
            user: record?.name ?? name,
            password: password,
            storedHash: stored
        ) {
            await self.verifyOnPool(password, against: stored)
        }

        guard var record, matches, encoded == record.passwordHash else {
            return .failure(knownUser: record != nil)
        }
        if PasswordHasher.algorithm(of: record.passwordHash) != self.algorithm {
            if let upgraded = await self.upgradeHash(of: record, password: password) {
                record.passwordHash = upgraded
            }
        }
        return .success(record)
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
