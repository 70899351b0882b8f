import ArgumentParser
import FerryProtocol
import FerryServer
import FerryUsers
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

extension Ferryd {
    /// `ferryd user ...`: administration of the SQLite user store. Works while the server runs.
    struct User: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage users: add, passwd, quota, remove, list, rescan, default-quota.",
            subcommands: [
                Add.self, Passwd.self, Quota.self, Remove.self, List.self, Rescan.self, DefaultQuota.self,
            ]
        )
    }
}

extension Ferryd.User {
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user.")

        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "User name: letters, digits, '.', '_' and '-', at most 64 characters.") var name: String
        @Flag(name: .customLong("password-stdin"), help: "Read the password from the first line of standard input.")
        var passwordStdin = false
        @Option(help: "Disk quota: a size such as 500KB, 10MiB, 2GB, or 'unlimited' (default: the default quota).")
        var quota: String?
        @Option(help: "Most files the user may have, or 'unlimited' (default: the default quota).")
        var files: String?
        @Option(help: "Home directory (absolute; default: <data>/homes/<name>).") var home: String?
        @Flag(help: "Accept a home that contains the data folder or overlaps another user's home.") var force = false

        func validate() throws {
            do { try UserName.validate(self.name) } catch { throw ValidationError(error.description) }
            if let quota { _ = try parseQuota(quota) }
            if let files { _ = try parseFileLimit(files) }
            if let home, !home.hasPrefix("/") {
                throw ValidationError("--home must be an absolute path, got '\(home)'")
            }
        }

        func run() async throws {
            let store = try openStore(self.dataOptions)
            if try await store.user(named: self.name) != nil {
                throw CLIError("user '\(self.name)' already exists")
            }
            // SECURITY: a home must not expose the data folder (user database, TLS key) or another user's files.
            let others = try await store.allUsers().map {
                ($0.name, $0.homeDirectory(dataDirectory: self.dataOptions.data))
            }
            let requested = self.home ?? self.dataOptions.data + "/homes/" + self.name
            if !self.force,
                let problem = HomeOverlap.problem(home: requested, dataDirectory: self.dataOptions.data, others: others)
            {
                throw CLIError("refusing --home: \(problem); use --force if this is really wanted")
            }
            let password = try readNewPassword(fromStdin: self.passwordStdin)
            let hash = try PasswordHasher.hash(password)
            let defaults = try await store.defaultQuota()
            let quotaBytes = try self.quota.map(parseQuota) ?? defaults.bytes
            let quotaFiles = try self.files.map(parseFileLimit) ?? defaults.files
            let record = try await store.add(
                name: self.name,
                passwordHash: hash,
                home: self.home,
                quotaBytes: quotaBytes,
                quotaFiles: quotaFiles
            )
            let home = record.homeDirectory(dataDirectory: self.dataOptions.data)
            if self.home == nil {
                _ = mkdir(self.dataOptions.data + "/homes", 0o755)
                _ = mkdir(home, 0o755)
            }
            print(
                "created user '\(self.name)' (home \(home), quota \(formatQuota(quotaBytes)), "
                    + "files \(quotaFiles.map(String.init) ?? "unlimited"))"
            )
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a user's password.")

        @OptionGroup var dataOptions: DataOptions
        @Argument var name: String
        @Flag(name: .customLong("password-stdin"), help: "Read the password from the first line of standard input.")
        var passwordStdin = false

        func run() async throws {
            let store = try openStore(self.dataOptions)
            _ = try await existingUser(self.name, in: store)
            let password = try readNewPassword(fromStdin: self.passwordStdin)
            try await store.setPasswordHash(name: self.name, hash: try PasswordHasher.hash(password))
            print("password of '\(self.name)' changed")
        }
    }

    struct Quota: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a user's disk quota (or 'unlimited').")

        @OptionGroup var dataOptions: DataOptions
        @Argument var name: String
        @Argument(help: "Bytes, a size such as 500KB, 10MiB, 2GB, or 'unlimited'.") var size: String
        @Option(help: "Most files the user may have, or 'unlimited' (default: unchanged).") var files: String?

        func validate() throws {
            _ = try parseQuota(self.size)
            if let files { _ = try parseFileLimit(files) }
        }

        func run() async throws {
            let store = try openStore(self.dataOptions)
            let record = try await existingUser(self.name, in: store)
            let bytes = try parseQuota(self.size)
            let files = try self.files.map(parseFileLimit) ?? record.quotaFiles
            try await store.setQuota(name: self.name, bytes: bytes, files: files)
            print(
                "quota of '\(self.name)' set to \(formatQuota(bytes)), files \(files.map(String.init) ?? "unlimited")"
                    + " (a running server applies it to the next upload)"
            )
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a user (and with --delete-home, the home).")

        @OptionGroup var dataOptions: DataOptions
        @Argument var name: String
        @Flag(name: .customLong("delete-home"), help: "Also delete the user's home directory and its files.")
        var deleteHome = false

        func run() async throws {
            let store = try openStore(self.dataOptions)
            let record: UserRecord
            do {
                record = try await store.remove(name: self.name)
            } catch {
                throw CLIError(error.description)
            }
            let home = record.homeDirectory(dataDirectory: self.dataOptions.data)
            if self.deleteHome {
                try FileManager.default.removeItem(atPath: home)
                print("removed user '\(self.name)' and deleted \(home)")
            } else {
                print("removed user '\(self.name)'; home \(home) kept")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users with home, quota and usage.")

        @OptionGroup var dataOptions: DataOptions

        func run() async throws {
            let store = try openStore(self.dataOptions)
            let users = try await store.allUsers()
            var rows = [["NAME", "HOME", "USED", "QUOTA", "USE%", "FILES", "FILE QUOTA"]]
            for user in users {
                let home = user.homeDirectory(dataDirectory: self.dataOptions.data)
                let percent = user.quotaBytes.map { $0 > 0 ? "\(user.usedBytes * 100 / $0)%" : "-" } ?? "-"
                rows.append([
                    user.name, home, "\(ByteSize.format(user.usedBytes)) (\(user.usedBytes))",
                    user.quotaBytes.map { "\(ByteSize.format($0)) (\($0))" } ?? "unlimited", percent,
                    String(user.usedFiles), user.quotaFiles.map(String.init) ?? "unlimited",
                ])
            }
            let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
            for row in rows {
                print(
                    row.enumerated().map { index, cell in
                        index == row.count - 1
                            ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
                    }.joined(separator: "  ")
                )
            }
        }
    }
}

/// The user's record, or a clear error naming the unknown user.
func existingUser(_ name: String, in store: UserStore) async throws -> UserRecord {
    guard let record = try await store.user(named: name) else { throw CLIError("no such user '\(name)'") }
    return record
}

extension Ferryd.User {
    struct Rescan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recount a user's usage from the disk (after files were changed outside the server)."
        )

        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "The user to recount.") var name: String?
        @Flag(help: "Recount every user.") var all = false

        func validate() throws {
            guard (self.name != nil) != self.all else { throw ValidationError("name one user, or give --all") }
        }

        func run() async throws {
            let store = try openStore(self.dataOptions)
            if let name { _ = try await existingUser(name, in: store) }
            let counts = try await HomeUsage.reconcile(
                store: store,
                dataDirectory: self.dataOptions.data,
                users: self.name.map { [$0] },
                live: true
            )
            for (name, count) in counts.sorted(by: { $0.key < $1.key }) {
                var line = "\(name): \(ByteSize.format(count.bytes)) (\(count.bytes) bytes) in \(count.files) files"
                if count.removedTemporaries > 0 { line += ", \(count.removedTemporaries) stale uploads removed" }
                print(line)
            }
        }
    }

    struct DefaultQuota: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "default-quota",
            abstract: "Show or set the quota that new users get when `user add` names none."
        )

        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "Bytes, a size such as 10GiB, or 'unlimited'. Without it, shows the current default.")
        var size: String?
        @Option(help: "Most files, or 'unlimited'.") var files: String?

        func validate() throws {
            if let size { _ = try parseQuota(size) }
            if let files { _ = try parseFileLimit(files) }
        }

        func run() async throws {
            let store = try openStore(self.dataOptions)
            var current = try await store.defaultQuota()
            if self.size != nil || self.files != nil {
                if let size { current.bytes = try parseQuota(size) }
                if let files { current.files = try parseFileLimit(files) }
                try await store.setDefaultQuota(bytes: current.bytes, files: current.files)
            }
            print(
                "default quota: \(formatQuota(current.bytes)), files \(current.files.map(String.init) ?? "unlimited")"
            )
        }
    }
}

/// `unlimited` or a size.
func parseQuota(_ text: String) throws -> Int64? {
    if text.lowercased() == "unlimited" { return nil }
    do {
        let bytes = try ByteSize.parse(text)
        guard bytes > 0 else { throw ValidationError("quota must be greater than zero, or 'unlimited'") }
        return bytes
    } catch let error as ByteSize.ParseError {
        throw ValidationError(error.description + ", or 'unlimited'")
    }
}

func formatQuota(_ bytes: Int64?) -> String {
    guard let bytes else { return "unlimited" }
    return "\(ByteSize.format(bytes)) (\(bytes) bytes)"
}

/// `unlimited` or a positive number of files.
func parseFileLimit(_ text: String) throws -> Int64? {
    if text.lowercased() == "unlimited" { return nil }
    guard let files = Int64(text), files > 0 else {
        throw ValidationError("invalid file limit '\(text)': use a positive number of files, or 'unlimited'")
    }
    return files
}

/// Reads a new password: from stdin's first line, or prompted twice without echo on a terminal.
func readNewPassword(fromStdin: Bool) throws -> Password {
    if fromStdin || isatty(STDIN_FILENO) == 0 {
        guard let line = readLine(strippingNewline: true), !line.isEmpty else {
            throw CLIError("no password on standard input")
        }
        return Password(line)
    }
    let first = readSecret(prompt: "New password: ")
    guard !first.isEmpty else { throw CLIError("empty password") }
    let second = readSecret(prompt: "Repeat password: ")
    guard first == second else { throw CLIError("the passwords do not match") }
    return Password(first)
}

/// Reads one line from the terminal with echo off, restoring the terminal afterwards.
func readSecret(prompt: String) -> String {
    FileHandle.standardError.write(Data(prompt.utf8))
    var saved = termios()
    tcgetattr(STDIN_FILENO, &saved)
    var silent = saved
    silent.c_lflag &= ~tcflag_t(ECHO)
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
    defer {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
        FileHandle.standardError.write(Data("\n".utf8))
    }
    return readLine(strippingNewline: true) ?? ""
}

/// A failure while running a command (not a usage mistake): printed as `Error: <message>`, exit code 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
