import CFerrySystem
import FerryProtocol
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The blocking file operations of a session, each resolved through the jail. Run on a thread pool.
extension Jail {
    /// Facts about the entry at `path`, following links inside the jail.
    func facts(at path: VirtualPath) throws(JailError) -> FileFacts {
        let location = try self.resolve(path, followFinal: true)
        var info = stat()
        let result: CInt
        if let name = location.name {
            result = fstatat(location.directory, name, &info, AT_SYMLINK_NOFOLLOW)
        } else {
            result = fstat(location.directory, &info)
        }
        guard result == 0 else { throw JailError(errno: errno, path: path) }
        return Self.facts(name: path.name ?? "/", info: info)
    }

    /// Every entry of the directory at `path` (sorted by name), without `.`, `..` and temporary uploads.
    /// Links that resolve inside the jail are described by their target; others are listed as links.
    /// The facts of `path`, and for a directory those of its entries too.
    func list(_ path: VirtualPath) throws(JailError) -> (target: FileFacts, entries: [FileFacts]) {
        let (target, listing) = try DirectoryListing.open(jail: self, path: path)
        guard let listing else { return (target, []) }
        var entries: [FileFacts] = []
        entries.reserveCapacity(listing.count)
        for range in listing.batches(of: 1024) { entries += listing.facts(in: range) }
        return (target, entries)
    }

    func makeDirectory(_ path: VirtualPath) throws(JailError) {
        let location = try self.resolve(path, followFinal: false)
        guard let name = location.name else { throw JailError(errno: EEXIST, path: path) }
        guard mkdirat(location.directory, name, 0o755) == 0 else { throw JailError(errno: errno, path: path) }
    }

    func removeDirectory(_ path: VirtualPath) throws(JailError) {
        guard !path.isRoot else { throw JailError(errno: EACCES, path: path) }
        let location = try self.resolve(path, followFinal: false)
        guard let name = location.name else { throw JailError(errno: EACCES, path: path) }
        guard unlinkat(location.directory, name, AT_REMOVEDIR) == 0 else { throw JailError(errno: errno, path: path) }
    }

    /// Deletes a file (or a link itself, never its target). Directories are refused: that is RMD's job.
    /// Returns the size of the regular file removed (nil for a link or special file), for the quota books.
    func removeFile(_ path: VirtualPath) throws(JailError) -> Int64? {
        let location = try self.resolve(path, followFinal: false)
        guard let name = location.name else { throw JailError(errno: EISDIR, path: path) }
        var info = stat()
        guard fstatat(location.directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw JailError(errno: errno, path: path)
        }
        guard info.st_mode & S_IFMT != S_IFDIR else { throw JailError(errno: EISDIR, path: path) }
        guard unlinkat(location.directory, name, 0) == 0 else { throw JailError(errno: errno, path: path) }
        return info.st_mode & S_IFMT == S_IFREG ? Int64(info.st_size) : nil
    }

    /// Checks that `path` exists (for RNFR) without following a final link: renaming a link renames the link.
    func checkExists(_ path: VirtualPath) throws(JailError) {
        guard !path.isRoot else { throw JailError(errno: EACCES, path: path) }
        let location = try self.resolve(path, followFinal: false)
        guard let name = location.name else { throw JailError(errno: EACCES, path: path) }
        var info = stat()
        guard fstatat(location.directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw JailError(errno: errno, path: path)
        }
    }

    /// Renames `source` to `destination`, replacing a file there. Returns the size of the regular file it replaced
    /// (for the quota books), or nil.
    func rename(from source: VirtualPath, to destination: VirtualPath) throws(JailError) -> Int64? {
        guard !source.isRoot, !destination.isRoot else { throw JailError(errno: EACCES, path: source) }
        guard !destination.isDescendant(of: source) || destination == source else {
            throw JailError(errno: EINVAL, path: destination)
        }
        let from = try self.resolve(source, followFinal: false)
        let to = try self.resolve(destination, followFinal: false)
        guard let fromName = from.name, let toName = to.name else { throw JailError(errno: EACCES, path: source) }
        var replaced = stat()
        let replacedSize: Int64? =
            fstatat(to.directory, toName, &replaced, AT_SYMLINK_NOFOLLOW) == 0 && replaced.st_mode & S_IFMT == S_IFREG
            ? Int64(replaced.st_size) : nil
        guard renameat(from.directory, fromName, to.directory, toName) == 0 else {
            throw JailError(errno: errno, path: destination)
        }
        return replacedSize
    }

    /// Opens a regular file for reading. The caller owns the descriptor.
    func openForReading(_ path: VirtualPath) throws(JailError) -> (fd: CInt, size: Int64, version: FileVersion) {
        let location = try self.resolve(path, followFinal: true)
        guard let name = location.name else { throw JailError(errno: EISDIR, path: path) }
        let fd = openat(location.directory, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw JailError(errno: errno, path: path) }
        let file = try Self.readableFile(fd, path: path)
        // Back to blocking reads: O_NONBLOCK has no effect on regular files of local file systems (open(2)), but this
        // path also serves network and FUSE file systems, whose servers may see it.
        _ = fcntl(fd, F_SETFL, O_RDONLY)
        return file
    }

    /// Checks that `fd` (opened with `O_NONBLOCK`) is a regular file; closes it and throws otherwise. The end of every
    /// open for reading, on the pool or on the event loop.
    static func readableFile(
        _ fd: CInt,
        path: VirtualPath
    ) throws(JailError) -> (fd: CInt, size: Int64, version: FileVersion) {
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = errno
            close(fd)
            throw JailError(errno: error, path: path)
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw JailError(errno: info.st_mode & S_IFMT == S_IFDIR ? EISDIR : EACCES, path: path)
        }
        return (fd, Int64(info.st_size), FileVersion(info))
    }

    /// Starts an atomic upload to `path`: a new temporary file beside the target, pre-filled with the first
    /// `keepingPrefix` bytes of the existing file (REST+STOR; nil keeps all of it, for APPE). Nothing visible changes until
    /// `commitUpload`.
    func beginUpload(_ path: VirtualPath, keepingPrefix requested: Int64?) throws(JailError) -> PendingUpload {
        let location = try self.resolve(path, followFinal: true)
        guard let name = location.name else { throw JailError(errno: EISDIR, path: path) }
        var existing = stat()
        var existingSize: Int64? = nil
        if fstatat(location.directory, name, &existing, AT_SYMLINK_NOFOLLOW) == 0 {
            guard existing.st_mode & S_IFMT == S_IFREG else {
                throw JailError(errno: existing.st_mode & S_IFMT == S_IFDIR ? EISDIR : EACCES, path: path)
            }
            existingSize = Int64(existing.st_size)
        } else if errno != ENOENT {
            throw JailError(errno: errno, path: path)
        }
        let prefix = requested ?? existingSize ?? 0
        if prefix > (existingSize ?? 0) {
            // REST beyond the end of the file would leave a hole of zeros: refuse, as RFC 3659 §5.5 allows.
            throw JailError(errno: EINVAL, path: path)
        }
        let directory = dup(location.directory)
        guard directory >= 0 else { throw JailError(errno: errno, path: path) }
        var temporaryName = ""
        var fd: CInt = -1
        for _ in 0..<8 {
            temporaryName = Self.temporaryPrefix + Self.randomSuffix()
            fd = openat(directory, temporaryName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else {
            let error = errno
            close(directory)
            throw JailError(errno: error, path: path)
        }
        let upload = PendingUpload(
            directory: directory,
            temporaryName: temporaryName,
            finalName: name,
            fd: fd,
            path: path,
            previousSize: existingSize,
            initialSize: prefix
        )
        if prefix > 0 {
            let source = openat(location.directory, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard source >= 0 else {
                let error = errno
                upload.discardIfPending()
                throw JailError(errno: error, path: path)
            }
            defer { close(source) }
            var copied: Int64 = 0
            var sourceOffset: Int64 = 0  // long long
            while copied < prefix {
                let count = cferry_copy_file_range(source, &sourceOffset, fd, nil, Int(prefix - copied))
                if count < 0 {
                    let error = errno
                    upload.discardIfPending()
                    throw JailError(errno: error, path: path)
                }
                if count == 0 { break }
                copied += Int64(count)
            }
            guard copied == prefix else {
                upload.discardIfPending()
                throw JailError(errno: EIO, path: path)
            }
        }
        return upload
    }

    /// The name of a directory entry from `readdir`.
    static func entryName(_ entry: UnsafeMutablePointer<dirent>) -> String {
        withUnsafePointer(to: entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
    }

    /// Bytes available to an unprivileged writer on the home's file system.
    func freeSpace() -> Int64 {
        var info = statvfs()
        guard statvfs(self.homePath, &info) == 0 else { return 0 }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

    static func randomSuffix() -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<16).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
    }

    /// The facts of a `stat` result; `unique` (device and inode, for MLSx) costs two number conversions and is
    /// left empty when not asked for.
    static func facts(name: String, info: stat, unique: Bool = true) -> FileFacts {
        let kind: FileFacts.Kind
        switch info.st_mode & S_IFMT {
        case S_IFREG: kind = .file
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        default: kind = .other
        }
        return FileFacts(
            name: name,
            kind: kind,
            size: Int64(info.st_size),
            modified: Int64(info.st_mtim.tv_sec),
            mode: UInt32(info.st_mode & 0o7777),
            linkCount: Int(info.st_nlink),
            unique: unique ? String(UInt64(info.st_dev), radix: 16) + "g" + String(UInt64(info.st_ino), radix: 16) : ""
        )
    }
}

/// A temporary upload file beside its final name: `commit` makes it visible, `discardIfPending` throws it away.
///
/// `@unchecked Sendable`: the descriptors are immutable, and `finished` (behind a lock) guarantees they are
/// closed exactly once whichever of commit and discard runs first.
final class PendingUpload: @unchecked Sendable {
    let directory: CInt
    let temporaryName: String
    let finalName: String
    let fd: CInt
    let path: VirtualPath
    /// Size of the file being replaced, nil if it is new.
    let previousSize: Int64?
    /// Bytes the temporary file starts with (copied from the existing file for APPE and REST+STOR).
    let initialSize: Int64
    private let finished = NIOLockedValueBox(false)

    init(
        directory: CInt,
        temporaryName: String,
        finalName: String,
        fd: CInt,
        path: VirtualPath,
        previousSize: Int64?,
        initialSize: Int64
    ) {
        self.initialSize = initialSize
        self.directory = directory
        self.temporaryName = temporaryName
        self.finalName = finalName
        self.fd = fd
        self.path = path
        self.previousSize = previousSize
    }

    /// Feeds the bytes the temporary file starts with (the kept prefix of APPE and REST+STOR) to `digests`, so the
    /// upload's digests cover the whole file (blocking).
    func digestPrefix(into digests: UploadDigests) throws(JailError) {
        guard self.initialSize > 0, !digests.isEmpty else { return }
        let reader = openat(self.directory, self.temporaryName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard reader >= 0 else { throw JailError(errno: errno, path: self.path) }
        defer { close(reader) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        while offset < self.initialSize {
            let wanted = Int(min(Int64(buffer.count), self.initialSize - offset))
            let count = buffer.withUnsafeMutableBytes { pread(reader, $0.baseAddress, wanted, off_t(offset)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw JailError(errno: count < 0 ? errno : EIO, path: self.path) }
            buffer.withUnsafeBytes { digests.update(UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
            offset += Int64(count)
        }
    }

    /// Appends bytes at the end of the temporary file (blocking).
    func write(_ bytes: UnsafeRawBufferPointer) throws(JailError) {
        var offset = 0
        while offset < bytes.count {
            let count = Glibc.write(self.fd, bytes.baseAddress! + offset, bytes.count - offset)
            if count < 0 {
                if errno == EINTR { continue }
                throw JailError(errno: errno, path: self.path)
            }
            offset += count
        }
    }

    /// Makes the upload visible under its final name, atomically replacing any previous file, if the quota
    /// books admit it. Returns the new size and the usage delta to record.
    ///
    /// With `books`, this runs under the user's `changes` lock: the size of the file being replaced is read,
    /// the books decide, and the rename happens, with no other change of that user's files in between.
    func commit(books: UploadBooks?) throws -> (version: FileVersion, delta: (bytes: Int64, files: Int64)?) {
        let lock = books?.account.changes
        lock?.lock()
        defer { lock?.unlock() }
        guard self.claim() else { throw JailError(errno: ECANCELED, path: self.path) }
        var info = stat()
        // fsync is not needed for atomicity (rename orders after the writes in the page cache), but a write error
        // that only shows at close must fail the upload.
        guard fstat(self.fd, &info) == 0 else {
            let error = errno
            close(self.fd)
            self.removeTemporary()
            throw JailError(errno: error, path: self.path)
        }
        let size = Int64(info.st_size)
        var previous = stat()
        var previousSize: Int64? = nil
        if fstatat(self.directory, self.finalName, &previous, AT_SYMLINK_NOFOLLOW) == 0 {
            guard previous.st_mode & S_IFMT != S_IFDIR else {
                self.removeTemporary()
                throw JailError(errno: EISDIR, path: self.path)
            }
            if previous.st_mode & S_IFMT == S_IFREG { previousSize = Int64(previous.st_size) }
        }
        let delta: (bytes: Int64, files: Int64)?
        do {
            delta = try books?.admit(previousSize: previousSize, newSize: size)
        } catch {
            close(self.fd)
            self.removeTemporary()
            throw error
        }
        guard close(self.fd) == 0, renameat(self.directory, self.temporaryName, self.directory, self.finalName) == 0
        else {
            let error = errno
            if let delta { books?.rollback(delta) }
            self.removeTemporary()
            throw JailError(errno: error, path: self.path)
        }
        // The committed file's version (the rename moved its change time), for the digest cache.
        var committed = stat()
        if fstatat(self.directory, self.finalName, &committed, AT_SYMLINK_NOFOLLOW) != 0 { committed = info }
        close(self.directory)
        return (FileVersion(committed), delta)
    }

    /// Throws the upload away unless it was committed; the previous file (if any) is untouched.
    func discardIfPending() {
        guard self.claim() else { return }
        close(self.fd)
        self.removeTemporary()
    }

    /// True for the first caller only.
    private func claim() -> Bool {
        self.finished.withLockedValue { done in
            defer { done = true }
            return !done
        }
    }

    private func removeTemporary() {
        unlinkat(self.directory, self.temporaryName, 0)
        close(self.directory)
    }
}
