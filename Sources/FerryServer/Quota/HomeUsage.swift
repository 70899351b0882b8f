import FerryUsers
import Logging
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// Counts what a home holds on disk: the bytes of regular files, and the number of regular files and directories
/// (the home itself not included; a directory counts as a file, so MKD cannot create entries without bound), links
/// not followed.
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
    ///
    /// Safe while the server runs (`ferryd user rescan`): a temporary upload is removed only if its lock can be
    /// taken, that is when no running upload holds it (see `Jail.beginUpload`); the kernel drops the lock of a
    /// process that died.
    ///
    /// No depth limit: renames can build trees of any depth, and a file below a limit would escape the count. The
    /// walk holds at most `maximumOpenDirectories` directories open; deeper ones are reached again by name from the
    /// nearest open ancestor (links never followed).
    public static func scan(home: String, removeStaleUploads: Bool = true) -> Count {
        var count = Count()
        let fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return count }
        Self.walk(root: fd, count: &count, removeStaleUploads: removeStaleUploads)
        return count
    }

    /// Most directory descriptors one walk keeps open.
    static let maximumOpenDirectories = 64

    /// One directory on the walk's path: its name in its parent, its descriptor while open, and the names of the
    /// subdirectories still to visit.
    private struct Frame {
        var name: String
        var fd: CInt?
        var pending: [String]
    }

    /// Takes ownership of `root` and closes it.
    private static func walk(root: CInt, count: inout Count, removeStaleUploads: Bool) {
        var stack: [Frame] = []
        var open = 0
        guard let first = Self.read(directory: root, count: &count, removeStaleUploads: removeStaleUploads) else {
            close(root)
            return
        }
        stack.append(Frame(name: "", fd: root, pending: first))
        open = 1
        while !stack.isEmpty {
            guard let name = stack[stack.count - 1].pending.popLast() else {
                if let fd = stack.removeLast().fd {
                    close(fd)
                    open -= 1
                }
                continue
            }
            guard let parent = Self.reopen(&stack, open: &open) else {
                // An ancestor was renamed or removed meanwhile: what was below it is gone from this walk's reach.
                stack.removeLast()
                continue
            }
            let child = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard child >= 0 else { continue }
            guard let names = Self.read(directory: child, count: &count, removeStaleUploads: removeStaleUploads) else {
                close(child)
                continue
            }
            // Keep the descriptors of the deepest directories; the oldest open one (never the root) is closed.
            if open >= Self.maximumOpenDirectories,
                let index = stack.indices.dropFirst().first(where: { stack[$0].fd != nil })
            {
                close(stack[index].fd!)
                stack[index].fd = nil
                open -= 1
            }
            stack.append(Frame(name: name, fd: child, pending: names))
            open += 1
        }
    }

    /// The descriptor of the top frame, reopening it (and its closed ancestors) by name if it was closed.
    private static func reopen(_ stack: inout [Frame], open: inout Int) -> CInt? {
        let top = stack.count - 1
        if let fd = stack[top].fd { return fd }
        guard let anchor = stack[...top].lastIndex(where: { $0.fd != nil }) else { return nil }
        var current = stack[anchor].fd!
        for index in (anchor + 1)...top {
            let fd = openat(current, stack[index].name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if index > anchor + 1 { close(current) }
            guard fd >= 0 else { return nil }
            current = fd
        }
        // Only the top one stays open (and is counted); the ancestors between were opened to walk through.
        stack[top].fd = current
        open += 1
        return current
    }

    /// Counts the entries of one directory and returns the names of its subdirectories (nil if it cannot be read).
    /// Does not take ownership of `directory`.
    private static func read(directory: CInt, count: inout Count, removeStaleUploads: Bool) -> [String]? {
        let reader = dup(directory)
        guard reader >= 0 else { return nil }
        guard let stream = fdopendir(reader) else {
            close(reader)
            return nil
        }
        defer { closedir(stream) }
        var directories: [String] = []
        while let entry = readdir(stream) {
            let name = Jail.entryName(entry)
            if name == "." || name == ".." { continue }
            var info = stat()
            guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                if Jail.isTemporaryName(name) {
                    if removeStaleUploads && Self.removeIfStale(name, in: directory) { count.removedTemporaries += 1 }
                    continue
                }
                count.bytes += Int64(info.st_size)
                count.files += 1
            case S_IFDIR:
                // A directory counts as one file (the file-count quota covers MKD).
                count.files += 1
                directories.append(name)
            default:
                continue
            }
        }
        return directories
    }

    /// Removes a temporary upload unless a running upload holds its lock.
    private static func removeIfStale(_ name: String, in directory: CInt) -> Bool {
        let fd = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return false }
        return unlinkat(directory, name, 0) == 0
    }

    /// Recounts the homes of `users` (all when nil) and stores the result. Returns the counts by user name.
    ///
    /// `live`: a server may be running (`ferryd user rescan`). The count is then stored only if the usage did not
    /// change while the home was walked (compare-and-set on the usage's version, after `settle` so that a change
    /// the walk saw has been recorded by the server), and walked again otherwise, up to `attempts` times.
    @discardableResult
    public static func reconcile(
        store: UserStore,
        dataDirectory: String,
        users names: [String]? = nil,
        live: Bool = false,
        settle: Duration = .seconds(1),
        attempts: Int = 5,
        logger: Logger? = nil
    ) async throws -> [String: Count] {
        var results: [String: Count] = [:]
        for record in try await store.allUsers() where names?.contains(record.name) ?? true {
            let home = record.homeDirectory(dataDirectory: dataDirectory)
            var count = Count()
            var stored = false
            for _ in 0..<max(1, attempts) {
                let before = try await store.usage(name: record.name)
                count = try await NIOThreadPool.singleton.runIfActive { Self.scan(home: home) }
                if live { try await Task.sleep(for: settle) }
                if try await store.setUsage(
                    name: record.name,
                    bytes: count.bytes,
                    files: count.files,
                    ifVersion: before.version
                ) {
                    stored = true
                    break
                }
            }
            guard stored else { throw RescanConflict(user: record.name) }
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

/// The usage kept changing while a home was recounted (a busy server): the stored usage was left as it was.
public struct RescanConflict: Error, CustomStringConvertible {
    public var user: String
    public var description: String {
        "the usage of '\(self.user)' kept changing during the recount (uploads in progress?); nothing stored, try again"
    }
}
