import Foundation
import GRDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One user account, a row of the `users` table.
public struct UserRecord: Sendable, Equatable, Codable, FetchableRecord, PersistableRecord {
    /// The table name.
    public static let databaseTableName = "users"

    /// The user name (primary key, case-sensitive); see ``UserName``.
    public var name: String
    /// The encoded password hash made by ``PasswordHasher``. A string that is not a valid hash (e.g. `!`) disables
    /// password logins for the user.
    public var passwordHash: String
    /// An explicit absolute home directory, or nil for the default `<data>/homes/<name>`.
    public var home: String?
    /// The most bytes the user may store, or nil for no limit.
    public var quotaBytes: Int64?
    /// The most files the user may store, or nil for no limit.
    public var quotaFiles: Int64?
    /// The bytes the user currently stores, as accounted by the server.
    public var usedBytes: Int64
    /// The files the user currently stores, as accounted by the server.
    public var usedFiles: Int64
    /// When the account was created.
    public var createdAt: Date
    /// When the password was last set by an administrator (not changed by a transparent hash upgrade).
    public var passwordChangedAt: Date

    /// Creates a record; normally you get records from ``UserStore`` instead.
    public init(
        name: String,
        passwordHash: String,
        home: String? = nil,
        quotaBytes: Int64? = nil,
        quotaFiles: Int64? = nil,
        usedBytes: Int64 = 0,
        usedFiles: Int64 = 0,
        createdAt: Date,
        passwordChangedAt: Date
    ) {
        self.name = name
        self.passwordHash = passwordHash
        self.home = home
        self.quotaBytes = quotaBytes
        self.quotaFiles = quotaFiles
        self.usedBytes = usedBytes
        self.usedFiles = usedFiles
        self.createdAt = createdAt
        self.passwordChangedAt = passwordChangedAt
    }

    /// The user's home directory: ``home`` if set, otherwise `<dataDirectory>/homes/<name>`.
    ///
    /// - Parameter dataDirectory: The server's data directory.
    public func homeDirectory(dataDirectory: String) -> String {
        if let home = self.home {
            return home
        }
        let base = dataDirectory.hasSuffix("/") ? String(dataDirectory.dropLast()) : dataDirectory
        return "\(base)/homes/\(self.name)"
    }
}

/// An error from ``UserStore`` or ``UserName``.
public enum UserStoreError: Error, CustomStringConvertible, Equatable {
    /// A user with this name already exists.
    case userExists(String)
    /// No user has this name.
    case noSuchUser(String)
    /// The name breaks the rules in ``UserName``; `reason` completes the sentence "user name '…' …".
    case invalidName(String, reason: String)
    /// The home directory is not an absolute path without `.`/`..` components.
    case invalidHome(String)
    /// A quota or usage value is negative; the payload says which.
    case invalidQuota(String)
    /// The database failed (cannot open, disk full, locked for too long…).
    case storage(String)

    /// A sentence for a command-line user, e.g. `user 'bob' already exists`.
    public var description: String {
        switch self {
        case .userExists(let name):
            return "user '\(Self.printable(name))' already exists"
        case .noSuchUser(let name):
            return "there is no user '\(Self.printable(name))'"
        case .invalidName(let name, let reason):
            return "user name '\(Self.printable(name))' \(reason)"
        case .invalidHome(let home):
            return "home directory '\(Self.printable(home))' must be an absolute path without '.' or '..' components"
        case .invalidQuota(let what):
            return "\(what) must not be negative"
        case .storage(let message):
            return "user database error: \(message)"
        }
    }

    /// The text with control characters escaped and cut to a readable length.
    static func printable(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            if result.unicodeScalars.count >= 80 {
                result += "…"
                break
            }
            if scalar.properties.generalCategory == .control {
                result += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}

/// The user database: a SQLite file in WAL mode, accessed through a GRDB `DatabasePool`.
///
/// All methods are `async` and never block the caller's thread. Several processes (the server and the admin
/// command line) may use the same file at once; a write waits up to 5 seconds for another process's write.
public final class UserStore: Sendable {
    /// The database file's path.
    public let path: String
    private let pool: DatabasePool

    /// Opens (and creates or migrates if needed) the user database.
    ///
    /// Creates missing parent directories (mode 0700) and sets the file's mode to 0600. This blocks the calling
    /// thread for a moment: call it at start-up, not on an event loop.
    ///
    /// - Parameter path: The database file's path.
    /// - Throws: ``UserStoreError/storage(_:)`` when the file cannot be opened or migrated.
    public init(path: String) throws(UserStoreError) {
        self.path = path
        do {
            try prepareDatabaseFile(path: path)
            var configuration = Configuration()
            configuration.label = "FerryUsers"
            configuration.busyMode = .timeout(5)
            let pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
            self.pool = pool
        } catch let error as UserStoreError {
            throw error
        } catch {
            throw .storage("cannot open '\(path)': \(error)")
        }
    }

    /// Opens the user database; the same as ``init(path:)``.
    public static func open(path: String) throws(UserStoreError) -> UserStore {
        try UserStore(path: path)
    }

    // MARK: Reading

    /// The user with this exact (case-sensitive) name, or nil.
    public func user(named name: String) async throws(UserStoreError) -> UserRecord? {
        try await self.perform {
            try await self.pool.read { db in try UserRecord.fetchOne(db, key: name) }
        }
    }

    /// All users, sorted by name.
    public func allUsers() async throws(UserStoreError) -> [UserRecord] {
        try await self.perform {
            try await self.pool.read { db in try UserRecord.order(Column("name")).fetchAll(db) }
        }
    }

    /// Whether there are no users at all.
    public func isEmpty() async throws(UserStoreError) -> Bool {
        try await self.perform {
            try await self.pool.read { db in try UserRecord.fetchCount(db) == 0 }
        }
    }

    // MARK: Writing

    /// Adds a user.
    ///
    /// - Parameters:
    ///   - name: The user name; checked with ``UserName/validate(_:)``.
    ///   - passwordHash: An encoded hash from ``PasswordHasher`` or ``Authenticator/hashNewPassword(_:)``.
    ///   - home: An explicit absolute home directory, or nil for the default.
    ///   - quotaBytes: The byte quota, or nil for no limit.
    ///   - quotaFiles: The file quota, or nil for no limit.
    /// - Returns: The stored record.
    /// - Throws: ``UserStoreError/invalidName(_:reason:)``, ``UserStoreError/invalidHome(_:)``,
    ///   ``UserStoreError/invalidQuota(_:)``, ``UserStoreError/userExists(_:)`` or ``UserStoreError/storage(_:)``.
    @discardableResult
    public func add(
        name: String,
        passwordHash: String,
        home: String? = nil,
        quotaBytes: Int64? = nil,
        quotaFiles: Int64? = nil
    ) async throws(UserStoreError) -> UserRecord {
        try UserName.validate(name)
        if let home {
            try Self.validateHome(home)
        }
        try Self.validateQuota(bytes: quotaBytes, files: quotaFiles)
        let now = Date()
        let record = UserRecord(
            name: name,
            passwordHash: passwordHash,
            home: home,
            quotaBytes: quotaBytes,
            quotaFiles: quotaFiles,
            createdAt: now,
            passwordChangedAt: now
        )
        return try await self.perform {
            try await self.pool.write { db in
                guard try !UserRecord.exists(db, key: name) else {
                    throw UserStoreError.userExists(name)
                }
                try record.insert(db)
                // Read it back so the dates have the precision the database stores.
                return try UserRecord.fetchOne(db, key: name) ?? record
            }
        }
    }

    /// Replaces a user's password hash and sets ``UserRecord/passwordChangedAt`` to now.
    public func setPasswordHash(name: String, hash: String) async throws(UserStoreError) {
        try await self.update(
            name: name,
            sql: "UPDATE users SET passwordHash = ?, passwordChangedAt = ? WHERE name = ?",
            arguments: [hash, Date(), name]
        )
    }

    /// A number that changes whenever another connection (another process: `ferryd user …`) changed the database
    /// since the last call; this process's own writes do not move it (SQLite's `PRAGMA data_version`, read on the
    /// writer connection). Cheap enough to poll every second.
    public func externalChangeCounter() async throws(UserStoreError) -> Int64 {
        try await self.perform {
            try await self.pool.writeWithoutTransaction { db in
                try Int64.fetchOne(db, sql: "PRAGMA data_version") ?? 0
            }
        }
    }

    /// Sets a user's quotas; nil means no limit.
    public func setQuota(name: String, bytes: Int64?, files: Int64?) async throws(UserStoreError) {
        try Self.validateQuota(bytes: bytes, files: files)
        try await self.update(
            name: name,
            sql: "UPDATE users SET quotaBytes = ?, quotaFiles = ? WHERE name = ?",
            arguments: [bytes, files, name]
        )
    }

    /// Sets a user's explicit home directory, or nil for the default.
    public func setHome(name: String, home: String?) async throws(UserStoreError) {
        if let home {
            try Self.validateHome(home)
        }
        try await self.update(name: name, sql: "UPDATE users SET home = ? WHERE name = ?", arguments: [home, name])
    }

    /// Sets a user's usage, e.g. after recounting the home directory.
    public func setUsage(name: String, bytes: Int64, files: Int64) async throws(UserStoreError) {
        guard bytes >= 0, files >= 0 else {
            throw .invalidQuota(bytes < 0 ? "the used bytes" : "the used files")
        }
        try await self.update(
            name: name,
            sql: "UPDATE users SET usedBytes = ?, usedFiles = ?, usageVersion = usageVersion + 1 WHERE name = ?",
            arguments: [bytes, files, name]
        )
    }

    /// A user's recorded usage and its version, which every change of the usage moves on.
    public func usage(name: String) async throws(UserStoreError) -> (bytes: Int64, files: Int64, version: Int64) {
        let values: [Int64]? = try await self.perform {
            try await self.pool.read { db -> [Int64]? in
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT usedBytes, usedFiles, usageVersion FROM users WHERE name = ?",
                    arguments: [name]
                )
                return row.map { [$0["usedBytes"], $0["usedFiles"], $0["usageVersion"]] }
            }
        }
        guard let values else { throw .noSuchUser(name) }
        return (values[0], values[1], values[2])
    }

    /// Sets a user's usage only if it has not changed since it was read at `version` (compare-and-set): a recount
    /// made while the server changed the usage must not overwrite that change. Returns false if it had changed.
    public func setUsage(
        name: String,
        bytes: Int64,
        files: Int64,
        ifVersion version: Int64
    ) async throws(UserStoreError) -> Bool {
        guard bytes >= 0, files >= 0 else {
            throw .invalidQuota(bytes < 0 ? "the used bytes" : "the used files")
        }
        return try await self.perform {
            try await self.pool.write { db in
                try db.execute(
                    sql: """
                        UPDATE users SET usedBytes = ?, usedFiles = ?, usageVersion = usageVersion + 1
                        WHERE name = ? AND usageVersion = ?
                        """,
                    arguments: [bytes, files, name, version]
                )
                return db.changesCount > 0
            }
        }
    }

    /// Adds deltas to a user's usage in one atomic `UPDATE`; the results are clamped at zero.
    ///
    /// - Returns: The record after the update.
    @discardableResult
    public func adjustUsage(
        name: String,
        bytesDelta: Int64,
        filesDelta: Int64
    ) async throws(UserStoreError)
        -> UserRecord
    {
        let record = try await self.perform {
            try await self.pool.write { db in
                try UserRecord.fetchOne(
                    db,
                    sql: """
                        UPDATE users SET usedBytes = MAX(0, usedBytes + ?), usedFiles = MAX(0, usedFiles + ?),
                        usageVersion = usageVersion + 1
                        WHERE name = ? RETURNING *
                        """,
                    arguments: [bytesDelta, filesDelta, name]
                )
            }
        }
        guard let record else {
            throw .noSuchUser(name)
        }
        return record
    }

    // MARK: Server-wide settings

    /// The quota given to new users when none is named: bytes and files, nil meaning unlimited.
    public func defaultQuota() async throws(UserStoreError) -> (bytes: Int64?, files: Int64?) {
        try await self.perform {
            try await self.pool.read { db in
                let bytes = try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = 'defaultQuotaBytes'")
                let files = try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = 'defaultQuotaFiles'")
                return (bytes.flatMap { Int64($0) }, files.flatMap { Int64($0) })
            }
        }
    }

    /// Sets the quota for new users (nil: unlimited). Existing users keep theirs.
    public func setDefaultQuota(bytes: Int64?, files: Int64?) async throws(UserStoreError) {
        try Self.validateQuota(bytes: bytes, files: files)
        try await self.perform {
            try await self.pool.write { db in
                for (key, value) in [("defaultQuotaBytes", bytes), ("defaultQuotaFiles", files)] {
                    if let value {
                        try db.execute(
                            sql: "INSERT INTO settings (key, value) VALUES (?, ?) "
                                + "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                            arguments: [key, String(value)]
                        )
                    } else {
                        try db.execute(sql: "DELETE FROM settings WHERE key = ?", arguments: [key])
                    }
                }
            }
        }
    }

    /// Removes a user.
    ///
    /// - Returns: The removed record (e.g. to find its home directory).
    @discardableResult
    public func remove(name: String) async throws(UserStoreError) -> UserRecord {
        try await self.perform {
            try await self.pool.write { db in
                guard let record = try UserRecord.fetchOne(db, key: name) else {
                    throw UserStoreError.noSuchUser(name)
                }
                try record.delete(db)
                return record
            }
        }
    }

    /// Replaces a password hash only if it still equals `old`, without touching ``UserRecord/passwordChangedAt``.
    ///
    /// Used for the transparent upgrade on login, so it cannot overwrite a password set meanwhile by an admin.
    ///
    /// - Returns: Whether the hash was replaced.
    func replacePasswordHash(name: String, old: String, new: String) async throws(UserStoreError) -> Bool {
        try await self.perform {
            try await self.pool.write { db in
                try db.execute(
                    sql: "UPDATE users SET passwordHash = ? WHERE name = ? AND passwordHash = ?",
                    arguments: [new, name, old]
                )
                return db.changesCount > 0
            }
        }
    }

    // MARK: Helpers

    private func update(name: String, sql: String, arguments: StatementArguments) async throws(UserStoreError) {
        let changed = try await self.perform {
            try await self.pool.write { db in
                try db.execute(sql: sql, arguments: arguments)
                return db.changesCount
            }
        }
        guard changed > 0 else {
            throw .noSuchUser(name)
        }
    }

    private func perform<T: Sendable>(_ body: () async throws -> T) async throws(UserStoreError) -> T {
        do {
            return try await body()
        } catch let error as UserStoreError {
            throw error
        } catch {
            throw .storage("'\(self.path)': \(error)")
        }
    }

    private static func validateHome(_ home: String) throws(UserStoreError) {
        let components = home.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard home.hasPrefix("/"), !home.unicodeScalars.contains("\0"),
            !components.contains(where: { $0 == "." || $0 == ".." })
        else {
            throw .invalidHome(home)
        }
    }

    private static func validateQuota(bytes: Int64?, files: Int64?) throws(UserStoreError) {
        if let bytes, bytes < 0 {
            throw .invalidQuota("the byte quota")
        }
        if let files, files < 0 {
            throw .invalidQuota("the file quota")
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: UserRecord.databaseTableName) { t in
                t.primaryKey("name", .text)
                t.column("passwordHash", .text).notNull()
                t.column("home", .text)
                t.column("quotaBytes", .integer)
                t.column("quotaFiles", .integer)
                t.column("usedBytes", .integer).notNull().defaults(to: 0)
                t.column("usedFiles", .integer).notNull().defaults(to: 0)
                t.column("createdAt", .datetime).notNull()
                t.column("passwordChangedAt", .datetime).notNull()
            }
        }
        migrator.registerMigration("v2-settings") { db in
            try db.create(table: "settings") { t in
                t.primaryKey("key", .text)
                t.column("value", .text).notNull()
            }
        }
        migrator.registerMigration("v3-usage-version") { db in
            // Moved on by every change of a user's usage, so a recount can compare-and-set (`setUsage(ifVersion:)`).
            try db.alter(table: UserRecord.databaseTableName) { t in
                t.add(column: "usageVersion", .integer).notNull().defaults(to: 0)
            }
        }
        return migrator
    }
}

/// Creates the parent directories (0700) and the file itself (0600) if missing, and sets the file to 0600.
private func prepareDatabaseFile(path: String) throws {
    let parent = (path as NSString).deletingLastPathComponent
    if !parent.isEmpty, !FileManager.default.fileExists(atPath: parent) {
        try FileManager.default.createDirectory(
            atPath: parent,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
    }
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
        throw UserStoreError.storage("cannot create '\(path)': \(String(cString: strerror(errno)))")
    }
    _ = fchmod(fd, 0o600)
    _ = close(fd)
}
