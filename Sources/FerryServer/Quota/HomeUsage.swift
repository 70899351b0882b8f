import FerryUsers
import Logging
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// Counts what a home holds on disk: the bytes and number of regular files, links not followed.
///
/// This is the only place that walks a whole home: at start-up (homes may have been changed outside the server)
/// and for `ferryd user rescan`. It also removes temporary upload files left by a crash, which are never part
/// of anyone's usage.
public enum HomeUsage {
    public struct Count: Sendable, Equatable {
        public var bytes: Int64 = 0
        public var files: Int64 = 0
        /// Stale temporary uploads removed.
        public var removedTemporaries = 0
    }

    /// Walks `home` (blocking). A missing home counts as empty.
    public static func scan(home: String, removeStaleUploads: Bool = true) -> Count {
        var count = Count()
        let fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return count }
        Self.walk(directory: fd, count: &count, removeStaleUploads: removeStaleUploads, depth: 0)
        return count
    }

    /// Takes ownership of `directory` and closes it.
    private static func walk(directory: CInt, count: inout Count, removeStaleUploads: Bool, depth: Int) {
        guard let stream = fdopendir(directory) else {
            close(directory)
            return
        }
        defer { closedir(stream) }
        while let entry = readdir(stream) {
            let name = Jail.entryName(entry)
            if name == "." || name == ".." { continue }
            var info = stat()
            guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                if name.hasPrefix(Jail.temporaryPrefix) {
                    if removeStaleUploads && unlinkat(directory, name, 0) == 0 { count.removedTemporaries += 1 }
                    continue
                }
                count.bytes += Int64(info.st_size)
                count.files += 1
            case S_IFDIR where depth < 512:
                let child = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if child >= 0 {
                    Self.walk(directory: child, count: &count, removeStaleUploads: removeStaleUploads, depth: depth + 1)
                }
            default:
                continue
            }
        }
    }

    /// Recounts the homes of `users` (all when nil) and stores the result. Returns the counts by user name.
    @discardableResult
    public static func reconcile(
        store: UserStore,
        dataDirectory: String,
        users names: [String]? = nil,
        logger: Logger? = nil
    ) async throws -> [String: Count] {
        var results: [String: Count] = [:]
        for record in try await store.allUsers() where names?.contains(record.name) ?? true {
            let home = record.homeDirectory(dataDirectory: dataDirectory)
            let count = try await NIOThreadPool.singleton.runIfActive { Self.scan(home: home) }
            try await store.setUsage(name: record.name, bytes: count.bytes, files: count.files)
            if count.bytes != record.usedBytes || count.files != record.usedFiles || count.removedTemporaries > 0 {
                logger?.notice(
                    "usage reconciled with disk",
                    metadata: [
                        "user": "\(record.name)", "bytes": "\(record.usedBytes)->\(count.bytes)",
                        "files": "\(record.usedFiles)->\(count.files)",
                        "stale uploads removed": "\(count.removedTemporaries)",
                    ]
                )
            }
            results[record.name] = count
        }
        return results
    }
}
