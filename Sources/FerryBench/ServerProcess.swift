import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Memory of a server's process tree, read from Linux's /proc (for the `idle` scenario).
///
/// Every call reads many files: call it from a thread that may block (``BenchRunner`` uses the NIO thread pool),
/// never from Swift's cooperative pool, which it would stall for everything else in the process.
public enum ServerProcess {
    /// The process that listens on TCP `port` (any address), found through /proc/net/tcp{,6} and /proc/*/fd.
    public static func listening(onPort port: Int) -> Int32? {
        var inodes = Set<String>()
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = Self.read(table) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                guard fields.count > 9, fields[3] == "0A",
                    let colon = fields[1].lastIndex(of: ":"),
                    Int(fields[1][fields[1].index(after: colon)...], radix: 16) == port
                else { continue }
                inodes.insert(String(fields[9]))
            }
        }
        guard !inodes.isEmpty else { return nil }
        let wanted = Set(inodes.map { "socket:[\($0)]" })
        // Our own process first (an in-process server), then every other one; plain readlink, no Foundation.
        let own = getpid()
        for pid in [own] + Self.allProcesses().filter({ $0 != own }) {
            for target in Self.descriptorTargets(of: pid) where wanted.contains(target) { return pid }
        }
        return nil
    }

    /// What each open descriptor of `pid` points at (`socket:[123]`, a path, …).
    private static func descriptorTargets(of pid: Int32) -> [String] {
        let directory = "/proc/\(pid)/fd"
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var targets: [String] = []
        var buffer = [CChar](repeating: 0, count: 256)
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            guard name.first?.isNumber == true else { continue }
            let count = readlink("\(directory)/\(name)", &buffer, buffer.count - 1)
            guard count > 0 else { continue }
            targets.append(String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return targets
    }

    /// `pid` and all its descendants (forking servers such as vsftpd run a process or two per session).
    public static func tree(of pid: Int32) -> [Int32] {
        var children: [Int32: [Int32]] = [:]
        for process in Self.allProcesses() {
            guard let stat = Self.read("/proc/\(process)/stat"),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // pid (comm) state ppid …; comm may contain spaces and parentheses, hence the last ')'.
            let rest = stat[stat.index(after: close)...].split(separator: " ")
            if rest.count > 1, let parent = Int32(rest[1]) { children[parent, default: []].append(process) }
        }
        var result: [Int32] = []
        var queue = [pid]
        while let next = queue.popLast() {
            result.append(next)
            queue.append(contentsOf: children[next] ?? [])
        }
        return result
    }

    /// Summed proportional (PSS) and resident (RSS) memory of the processes, in KiB.
    public static func memory(of pids: [Int32]) -> (pss: Int, rss: Int) {
        var pss = 0
        var rss = 0
        for pid in pids {
            guard let text = Self.read("/proc/\(pid)/smaps_rollup") else { continue }
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count >= 2, let kib = Int(fields[1]) else { continue }
                if fields[0] == "Pss:" { pss += kib }
                if fields[0] == "Rss:" { rss += kib }
            }
        }
        return (pss, rss)
    }

    /// The whole of a /proc file. (Their size is 0 to stat, so readers that trust the size stop early, and
    /// /proc/net/tcp of a busy machine runs to many pages.)
    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func allProcesses() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
    }

    /// Raises this process's open-file limit to the hard limit (a thousand sessions need a thousand sockets).
    public static func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max
        else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    }
}
