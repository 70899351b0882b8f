import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

private func netrcRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}

/// A `~/.netrc` file, as ftp(1) and curl read it: `machine NAME login USER password SECRET account ACCT`, a
/// `default` entry, `macdef` macros (skipped), tokens on one line or across lines, double-quoted values with
/// backslash escapes, and `#` comments.
public struct NetRC: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        /// The host name; `nil` for the `default` entry.
        public var machine: String?
        public var login: String?
        public var password: String?
        public var account: String?

        public init(machine: String?, login: String? = nil, password: String? = nil, account: String? = nil) {
            self.machine = machine
            self.login = login
            self.password = password
            self.account = account
        }
    }

    /// What ``load(path:)`` found.
    public enum LoadResult: Sendable {
        case loaded(NetRC)
        /// There is no such file.
        case missing
        /// The file holds a password and other users may read it: it is not used (as ftp(1) refuses it).
        case refused(reason: String)
        /// The file could not be read.
        case failed(reason: String)

        /// The parsed file, when it may be used.
        public var netrc: NetRC? {
            if case .loaded(let netrc) = self { return netrc }
            return nil
        }

        /// Why the file is not used, to show as a warning (`nil` when loaded or missing).
        public var problem: String? {
            switch self {
            case .loaded, .missing: return nil
            case .refused(let reason), .failed(let reason): return reason
            }
        }
    }

    /// The entries in file order; the `default` entry has no machine.
    public var entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries
    }

    /// Whether any entry holds a password.
    public var containsPassword: Bool {
        self.entries.contains { $0.password != nil }
    }

    /// The login and password for `host` (case-insensitive): the first `machine` entry for it, else the
    /// `default` entry, else nothing. With `login` (given on the command line), only an entry for that login
    /// counts, as curl does; the login is then returned as given.
    public func credentials(host: String, login: String? = nil) -> (login: String?, password: String?) {
        guard let entry = self.entry(host: host, login: login) else { return (login, nil) }
        return (login ?? entry.login, entry.password)
    }

    /// The entry used for `host` (see ``credentials(host:login:)``).
    public func entry(host: String, login: String? = nil) -> Entry? {
        let host = host.lowercased()
        func accepts(_ entry: Entry) -> Bool {
            guard let login else { return true }
            return entry.login == login
        }
        if let entry = self.entries.first(where: { $0.machine?.lowercased() == host && accepts($0) }) {
            return entry
        }
        return self.entries.first { $0.machine == nil && accepts($0) }
    }

    // MARK: - Files

    /// `$NETRC` if set, else `~/.netrc`.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let path = environment["NETRC"], !path.isEmpty { return path }
        var home = environment["HOME"] ?? ""
        if home.isEmpty, let entry = getpwuid(getuid()), let directory = entry.pointee.pw_dir {
            home = String(cString: directory)
        }
        return (home.hasSuffix("/") ? home : home + "/") + ".netrc"
    }

    /// Reads and parses the file. A file that holds a password but whose mode lets the group or others read or
    /// write it is refused, with the reason to show.
    public static func load(path: String) -> LoadResult {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { return .missing }
            return .failed(reason: "cannot read \(path): \(String(cString: strerror(code)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            return .failed(reason: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            return .failed(reason: "cannot read \(path): not a regular file")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            let count = chunk.withUnsafeMutableBytes { netrcRead(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failed(reason: "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes += chunk[0..<count]
            if bytes.count > 1 << 20 { return .failed(reason: "cannot read \(path): larger than 1 MiB") }
        }
        let netrc = Self.parse(String(decoding: bytes, as: UTF8.self))
        let mode = UInt32(info.st_mode) & 0o777
        if netrc.containsPassword, mode & 0o077 != 0 {
            return .refused(
                reason: "\(path) contains a password but other users can read it (mode \(String(mode, radix: 8))); "
                    + "it is ignored: run chmod 600 \(path)"
            )
        }
        return .loaded(netrc)
    }

    // MARK: - Parsing

    /// Parses netrc text. Unknown keywords are skipped; `login`/`password`/`account` before any `machine` or
    /// `default` are ignored.
    public static func parse(_ text: String) -> NetRC {
        var scanner = Scanner(Array(text.unicodeScalars))
        var entries: [Entry] = []
        var current: Entry?
        while let keyword = scanner.next(keyword: true) {
            switch keyword {
            case "machine":
                if let current { entries.append(current) }
                current = Entry(machine: scanner.next(keyword: false) ?? "")
            case "default":
                if let current { entries.append(current) }
                current = Entry(machine: nil)
            case "login", "user":
                let value = scanner.next(keyword: false)
                current?.login = value
            case "password", "passwd":
                let value = scanner.next(keyword: false)
                current?.password = value
            case "account":
                let value = scanner.next(keyword: false)
                current?.account = value
            case "macdef":
                _ = scanner.next(keyword: false)
                scanner.skipMacro()
            default:
                continue
            }
        }
        if let current { entries.append(current) }
        return NetRC(entries: entries)
    }

    private struct Scanner {
        let scalars: [Unicode.Scalar]
        var index = 0

        init(_ scalars: [Unicode.Scalar]) {
            self.scalars = scalars
        }

        static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
            scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r" || scalar == "\u{0B}"
                || scalar == "\u{0C}"
        }

        /// The next token; with `keyword`, a `#` starting a token starts a comment that runs to the end of the line.
        mutating func next(keyword: Bool) -> String? {
            while true {
                while self.index < self.scalars.count, Self.isSpace(self.scalars[self.index]) { self.index += 1 }
                guard self.index < self.scalars.count else { return nil }
                if keyword, self.scalars[self.index] == "#" {
                    while self.index < self.scalars.count, self.scalars[self.index] != "\n" { self.index += 1 }
                    continue
                }
                break
            }
            var token = String.UnicodeScalarView()
            if self.scalars[self.index] == "\"" {
                self.index += 1
                while self.index < self.scalars.count, self.scalars[self.index] != "\"" {
                    var scalar = self.scalars[self.index]
                    if scalar == "\\", self.index + 1 < self.scalars.count {
                        self.index += 1
                        switch self.scalars[self.index] {
                        case "n": scalar = "\n"
                        case "r": scalar = "\r"
                        case "t": scalar = "\t"
                        default: scalar = self.scalars[self.index]
                        }
                    }
                    token.append(scalar)
                    self.index += 1
                }
                if self.index < self.scalars.count { self.index += 1 }  // the closing quote
            } else {
                while self.index < self.scalars.count, !Self.isSpace(self.scalars[self.index]) {
                    token.append(self.scalars[self.index])
                    self.index += 1
                }
            }
            return String(token)
        }

        /// Skips the rest of the `macdef` line and the macro body, which ends at an empty line.
        mutating func skipMacro() {
            while self.index < self.scalars.count, self.scalars[self.index] != "\n" { self.index += 1 }
            guard self.index < self.scalars.count else { return }
            self.index += 1
            // Each iteration consumes one line of the body; an empty line (or "\r" alone) ends it.
            while self.index < self.scalars.count {
                let start = self.index
                while self.index < self.scalars.count, self.scalars[self.index] != "\n" { self.index += 1 }
                let line = self.scalars[start..<self.index]
                if self.index < self.scalars.count { self.index += 1 }
                if line.isEmpty || (line.count == 1 && line.first == "\r") { return }
            }
        }
    }
}
