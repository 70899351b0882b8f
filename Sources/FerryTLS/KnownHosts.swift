import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why the known-hosts file could not be read or written.
public enum KnownHostsError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "cannot read known hosts file \(path): \(reason)"
        case .writeFailed(let path, let reason): return "cannot write known hosts file \(path): \(reason)"
        }
    }
}

/// Trust on first use for FTPS servers, like ssh's `known_hosts`: the SHA-256 fingerprint of each server's
/// certificate, remembered by `host:port`.
///
/// The file has one entry a line, `host:port FINGERPRINT` (IPv6 hosts in brackets: `[::1]:2121`), fingerprints in the
/// OpenSSL form of ``ServerCertificate/sha256Fingerprint`` (any form ``ServerCertificate/normalizedFingerprint(_:)``
/// accepts is read). Blank lines and lines starting with `#` are comments; lines that cannot be parsed are ignored
/// but kept when the file is saved.
///
///     # ferry known hosts
///     ftp.example.com:21 3A:9F:…:0C
///     [2001:db8::1]:990 5B:00:…:7E
///
/// A value is a snapshot: ``remember(host:port:fingerprint:)`` and ``forget(host:port:)`` change it in memory and
/// ``save()`` applies those changes to what is on disk at that moment (under a lock), so processes that save at
/// the same time do not lose each other's entries.
public struct KnownHosts: Sendable {
    public enum Verdict: Hashable, Sendable {
        /// The host is known and presented the remembered certificate.
        case trusted
        /// The host is not in the file: ask the user, then ``KnownHosts/remember(host:port:fingerprint:)``.
        case unknown
        /// The host is known with another certificate: refuse unless the user accepts the change.
        case mismatch(expected: String)
    }

    public struct Entry: Hashable, Sendable {
        /// Lowercased, without brackets.
        public var host: String
        public var port: Int
        public var fingerprint: String
    }

    private enum Line: Sendable {
        case entry(Entry, text: String)
        /// A comment, a blank line or a line that is not understood, written back as it was.
        case other(String)
    }

    private enum Change: Sendable {
        case set(Entry)
        case remove(host: String, port: Int)
    }

    /// The file this value was loaded from and is saved to.
    public let path: String
    private var lines: [Line]
    private var changes: [Change]

    /// An empty store for `path`; nothing is read (use ``load(path:)`` for that).
    public init(path: String) {
        self.path = path
        self.lines = []
        self.changes = []
    }

    /// `$XDG_CONFIG_HOME/ferry/known_hosts`, or `~/.config/ferry/known_hosts`.
    public static func defaultPath(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        if let config = environment["XDG_CONFIG_HOME"], config.hasPrefix("/") {
            return Self.joined(config, "ferry/known_hosts")
        }
        return Self.joined(Self.homeDirectory(environment: environment), ".config/ferry/known_hosts")
    }

    /// Reads the file; a missing file gives an empty store.
    public static func load(path: String) throws(KnownHostsError) -> KnownHosts {
        var hosts = KnownHosts(path: path)
        guard let text = try Self.readFile(path: path) else { return hosts }
        hosts.lines = Self.parse(text)
        return hosts
    }

    /// The entries, in file order (remembered ones included).
    public var entries: [Entry] {
        self.lines.compactMap {
            if case .entry(let entry, _) = $0 { return entry }
            return nil
        }
    }

    /// Whether `fingerprint` is the one remembered for `host:port`. Hosts compare case-insensitively; an IPv6
    /// address may be given with or without brackets.
    public func check(host: String, port: Int, fingerprint: String) -> Verdict {
        let host = Self.normalizedHost(host)
        let fingerprint = Self.normalizedFingerprint(fingerprint)
        let known = self.entries.filter { $0.host == host && $0.port == port }
        guard let first = known.first else { return .unknown }
        if known.contains(where: { $0.fingerprint == fingerprint }) { return .trusted }
        return .mismatch(expected: first.fingerprint)
    }

    /// Trusts `fingerprint` for `host:port` from now on, replacing what was remembered for it. Call ``save()``
    /// to write it.
    public mutating func remember(host: String, port: Int, fingerprint: String) {
        let entry = Entry(
            host: Self.normalizedHost(host),
            port: port,
            fingerprint: Self.normalizedFingerprint(fingerprint)
        )
        self.changes.append(.set(entry))
        Self.apply(.set(entry), to: &self.lines)
    }

    /// Removes what is remembered for `host:port`. Call ``save()`` to write it.
    public mutating func forget(host: String, port: Int) {
        let change = Change.remove(host: Self.normalizedHost(host), port: port)
        self.changes.append(change)
        Self.apply(change, to: &self.lines)
    }

    /// Writes the file: the directory is created with mode 0700 if needed, the file is replaced atomically
    /// (temporary file, fsync, rename) with mode 0600. The changes made to this value are applied to the file as it
    /// is now on disk, under an exclusive lock on the directory, so other entries, comments and concurrent
    /// saves by other processes are kept.
    public func save() throws(KnownHostsError) {
        let directory = TLSFileIO.parentDirectory(of: self.path)
        try Self.createDirectories(directory, path: self.path)

        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryFD >= 0 else {
            throw .writeFailed(path: self.path, reason: TLSFileIO.errorString(errno))
        }
        defer { close(directoryFD) }
        while flock(directoryFD, LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw .writeFailed(path: self.path, reason: "cannot lock: \(TLSFileIO.errorString(errno))")
            }
        }
        defer { _ = flock(directoryFD, LOCK_UN) }

        var lines: [Line]
        if let text = try Self.readFile(path: self.path) {
            lines = Self.parse(text)
        } else {
            lines = [.other("# Ferry known FTPS servers: host:port SHA-256 certificate fingerprint")]
        }
        for change in self.changes { Self.apply(change, to: &lines) }

        var text = ""
        for line in lines {
            switch line {
            case .entry(_, let raw): text += raw + "\n"
            case .other(let raw): text += raw + "\n"
            }
        }
        do throws(TLSCertificateError) {
            try TLSFileIO.writeAtomically(Array(text.utf8), to: self.path, mode: 0o600)
        } catch {
            if case .writeFailed(_, let reason) = error { throw .writeFailed(path: self.path, reason: reason) }
            throw .writeFailed(path: self.path, reason: error.description)
        }
    }

    /// `host:port`, with IPv6 hosts in brackets, as written in the file.
    public static func key(host: String, port: Int) -> String {
        let host = Self.normalizedHost(host)
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    // MARK: - Parsing

    private static func parse(_ text: String) -> [Line] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> Line in
            var raw = String(line)
            if raw.hasSuffix("\r") { raw.removeLast() }
            return Self.parseLine(raw)
        }
        // The split leaves an empty last element for the final newline.
        if case .other("")? = lines.last, text.hasSuffix("\n") || text.isEmpty { lines.removeLast() }
        return lines
    }

    private static func parseLine(_ raw: String) -> Line {
        let fields = raw.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 2, !fields[0].hasPrefix("#"),
            let (host, port) = Self.parseHostPort(fields[0]),
            let fingerprint = ServerCertificate.normalizedFingerprint(String(fields[1]))
        else { return .other(raw) }
        return .entry(Entry(host: host, port: port, fingerprint: fingerprint), text: raw)
    }

    /// `host:port` or `[v6]:port`.
    private static func parseHostPort(_ text: Substring) -> (String, Int)? {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstRange(of: "]:") else { return nil }
            host = text[text.index(after: text.startIndex)..<close.lowerBound]
            portText = text[close.upperBound...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return nil }
        }
        guard !host.isEmpty, let port = Int(portText), (1...65_535).contains(port) else { return nil }
        return (Self.normalizedHost(String(host)), port)
    }

    private static func apply(_ change: Change, to lines: inout [Line]) {
        func matches(_ line: Line, _ host: String, _ port: Int) -> Bool {
            if case .entry(let entry, _) = line { return entry.host == host && entry.port == port }
            return false
        }
        switch change {
        case .set(let entry):
            let line = Line.entry(entry, text: Self.key(host: entry.host, port: entry.port) + " " + entry.fingerprint)
            if let index = lines.firstIndex(where: { matches($0, entry.host, entry.port) }) {
                lines[index] = line
                var position = index + 1
                while position < lines.count {
                    if matches(lines[position], entry.host, entry.port) {
                        lines.remove(at: position)
                    } else {
                        position += 1
                    }
                }
            } else {
                lines.append(line)
            }
        case .remove(let host, let port):
            lines.removeAll { matches($0, host, port) }
        }
    }

    private static func normalizedHost(_ host: String) -> String {
        var text = Substring(host)
        if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        return text.lowercased()
    }

    private static func normalizedFingerprint(_ text: String) -> String {
        ServerCertificate.normalizedFingerprint(text)
            ?? text.trimmingCharacters(in: .whitespacesAndNewlines).uppercased().filter { $0 != " " && $0 != "\t" }
    }

    // MARK: - Files

    /// The file's text, or `nil` if it does not exist.
    private static func readFile(path: String) throws(KnownHostsError) -> String? {
        do throws(TLSCertificateError) {
            return String(decoding: try TLSFileIO.read(path: path), as: UTF8.self)
        } catch {
            switch error {
            case .fileNotFound: return nil
            case .fileUnreadable(_, let reason): throw .unreadable(path: path, reason: reason)
            default: throw .unreadable(path: path, reason: error.description)
            }
        }
    }

    /// `mkdir -p` with mode 0700 for every directory created (as the XDG base directory specification asks).
    private static func createDirectories(_ directory: String, path: String) throws(KnownHostsError) {
        var info = stat()
        if stat(directory, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                throw .writeFailed(path: path, reason: "\(directory) exists and is not a directory")
            }
            return
        }
        let parent = TLSFileIO.parentDirectory(of: directory)
        if parent != directory, !parent.isEmpty {
            try self.createDirectories(parent, path: path)
        }
        guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
            throw .writeFailed(path: path, reason: "cannot create \(directory): \(TLSFileIO.errorString(errno))")
        }
    }

    private static func homeDirectory(environment: [String: String]) -> String {
        if let home = environment["HOME"], !home.isEmpty { return home }
        if let entry = getpwuid(getuid()), let directory = entry.pointee.pw_dir {
            return String(cString: directory)
        }
        return "/"
    }

    private static func joined(_ directory: String, _ relative: String) -> String {
        directory.hasSuffix("/") ? directory + relative : directory + "/" + relative
    }
}
