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

    /// Renames `source` to `destination`, replacing a file there. Returns what it replaced (for the quota books), or
    /// nil when nothing was replaced.
    ///
    /// QUOTA: when both names lead to the same inode (the same name spelt another way, or another hard link to the
    /// file), rename(2) changes nothing and nothing was replaced: the books must not change either. Device and inode
    /// are compared, not names, so no spelling gets around it.
    func rename(from source: VirtualPath, to destination: VirtualPath) throws(JailError) -> Replaced? {
        guard !source.isRoot, !destination.isRoot else { throw JailError(errno: EACCES, path: source) }
        guard !destination.isDescendant(of: source) || destination == source else {
            throw JailError(errno: EINVAL, path: destination)
        }
        let from = try self.resolve(source, followFinal: false)
        let to = try self.resolve(destination, followFinal: false)
        guard let fromName = from.name, let toName = to.name else { throw JailError(errno: EACCES, path: source) }
        var moved = stat()
        guard fstatat(from.directory, fromName, &moved, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw JailError(errno: errno, path: source)
        }
        var existing = stat()
        var replaced: Replaced? = nil
        if fstatat(to.directory, toName, &existing, AT_SYMLINK_NOFOLLOW) == 0 {
            if existing.st_dev == moved.st_dev && existing.st_ino == moved.st_ino { return nil }
            switch existing.st_mode & S_IFMT {
            case S_IFREG: replaced = .file(size: Int64(existing.st_size))
            case S_IFDIR: replaced = .directory
            default: replaced = nil
            }
        }
        guard renameat(from.directory, fromName, to.directory, toName) == 0 else {
            throw JailError(errno: errno, path: destination)
        }
        return replaced
    }

    /// What a rename replaced, for the quota books: a regular file's bytes and one file, or an (empty) directory,
    /// which counts as a file too.
    enum Replaced: Equatable {
        case file(size: Int64)
        case directory

        var bytes: Int64 {
            if case .file(let size) = self { return size }
            return 0
        }
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

    /// How an upload relates to the file already at its path.
    enum UploadMode: Equatable {
        /// STOR: the upload replaces the file (or creates it).
        case replace
        /// APPE: the upload is added at the end of the file (or creates it).
        case append
        /// REST n + STOR: the file's first n bytes, then the upload.
        case resume(at: Int64)
    }

    /// Starts an atomic upload to `path`: a new, empty temporary file beside the target. Nothing visible changes
    /// until `PendingUpload.commit`, and nothing is copied here: the checks (quota, data connection) come first.
    ///
    /// - APPE, and REST n + STOR with n the file's size (the usual resume), receive only the new bytes; the commit
    ///   adds them to the end of the file under the user's `changes` lock, so every append acknowledged with 226 is
    ///   in the file, whatever else commits meanwhile.
    /// - REST n + STOR with n below the size keeps the first n bytes: `copyPrefix` copies them into the temporary
    ///   file (counted in the quota, cancellable), and the commit replaces the file.
    func beginUpload(
        _ path: VirtualPath,
        mode requested: UploadMode,
        writeBehind: Bool = false
    ) throws(JailError) -> PendingUpload {
        let location = try self.resolve(path, followFinal: true)
        guard let name = location.name else { throw JailError(errno: EISDIR, path: path) }
        var existing = stat()
        var base: FileVersion? = nil
        if fstatat(location.directory, name, &existing, AT_SYMLINK_NOFOLLOW) == 0 {
            guard existing.st_mode & S_IFMT == S_IFREG else {
                throw JailError(errno: existing.st_mode & S_IFMT == S_IFDIR ? EISDIR : EACCES, path: path)
            }
            base = FileVersion(existing)
        } else if errno != ENOENT {
            throw JailError(errno: errno, path: path)
        }
        let existingSize = base?.size ?? 0
        let kind: PendingUpload.Kind
        switch requested {
        case .replace:
            kind = .replace(prefix: 0)
        case .append:
            kind = .append(requiredSize: nil)
        case .resume(let offset) where offset > existingSize:
            // REST beyond the end of the file would leave a hole of zeros: refuse, as RFC 3659 §5.5 allows.
            throw JailError(errno: EINVAL, path: path)
        case .resume(let offset) where offset == existingSize:
            kind = offset == 0 ? .replace(prefix: 0) : .append(requiredSize: offset)
        case .resume(let offset):
            kind = .replace(prefix: offset)
        }
        let directory = dup(location.directory)
        guard directory >= 0 else { throw JailError(errno: errno, path: path) }
        var temporaryName = ""
        var fd: CInt = -1
        for _ in 0..<8 {
            temporaryName = Self.temporaryPrefix + Self.randomSuffix()
            fd = openat(directory, temporaryName, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else {
            let error = errno
            close(directory)
            throw JailError(errno: error, path: path)
        }
        // The lock says "in use" to `HomeUsage` (start-up and `ferryd user rescan`): a temporary file whose lock can
        // be taken belongs to no running upload (a crash, SIGKILL) and may go. The kernel drops the lock with the
        // process, whatever kills it.
        _ = flock(fd, LOCK_EX | LOCK_NB)
        return PendingUpload(
            directory: directory,
            temporaryName: temporaryName,
            finalName: name,
            fd: fd,
            path: path,
            base: base,
            kind: kind,
            writeBehind: writeBehind
        )
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
    /// How the temporary file becomes the file.
    enum Kind: Equatable {
        /// It replaces the file, after `prefix` bytes of the old file are copied into it (REST n + STOR).
        case replace(prefix: Int64)
        /// It is added at the end of the file (APPE; REST n + STOR at the end, which then requires the file to still
        /// be `requiredSize` bytes long at the commit).
        case append(requiredSize: Int64?)
    }

    let directory: CInt
    let temporaryName: String
    let finalName: String
    let fd: CInt
    let path: VirtualPath
    /// The file at the path when the upload began, nil if there was none.
    let base: FileVersion?
    let kind: Kind
    /// Start writing each batch to disk as soon as it is written (see `wrote`).
    let writeBehind: Bool
    /// Bytes received and written so far (for `wrote`).
    private let written = NIOLockedValueBox<Int64>(0)
    private let finished = NIOLockedValueBox(false)

    init(
        directory: CInt,
        temporaryName: String,
        finalName: String,
        fd: CInt,
        path: VirtualPath,
        base: FileVersion?,
        kind: Kind,
        writeBehind: Bool
    ) {
        self.writeBehind = writeBehind
        self.directory = directory
        self.temporaryName = temporaryName
        self.finalName = finalName
        self.fd = fd
        self.path = path
        self.base = base
        self.kind = kind
    }

    /// Size of the file being replaced when the upload began, nil if it is new.
    var previousSize: Int64? { self.base?.size }

    /// Whether the received bytes go at the end of the file rather than replace it.
    var appends: Bool {
        if case .append = self.kind { return true }
        return false
    }

    /// Bytes of the old file that the finished file starts with: copied (REST n + STOR) or kept in place (append).
    var keptPrefix: Int64 {
        switch self.kind {
        case .replace(let prefix): return prefix
        case .append: return self.base?.size ?? 0
        }
    }

    /// Bytes the temporary file holds before the first received byte (the copied prefix of REST n + STOR).
    var initialSize: Int64 {
        if case .replace(let prefix) = self.kind { return prefix }
        return 0
    }

    /// The size of the finished file when the temporary file holds `size` bytes (as of when the upload began).
    func finalSize(temporarySize size: Int64) -> Int64 {
        if case .append = self.kind { return (self.base?.size ?? 0) + size }
        return size
    }

    /// Copies the kept prefix of the old file into the temporary file (REST n + STOR below the end), in steps of
    /// `step` bytes; `cancelled` is asked between steps, so ABOR or a lost session stop a long copy (blocking).
    func copyPrefix(step: Int = 8 << 20, cancelled: () -> Bool) throws(JailError) {
        guard case .replace(let prefix) = self.kind, prefix > 0 else { return }
        let source = openat(self.directory, self.finalName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard source >= 0 else { throw JailError(errno: errno, path: self.path) }
        defer { close(source) }
        var info = stat()
        // The prefix must come from the very file the upload began with (the digest of SITE EXPECT covers it).
        guard fstat(source, &info) == 0, FileVersion(info).inode == self.base?.inode,
            FileVersion(info).device == self.base?.device
        else { throw JailError(errno: ECANCELED, path: self.path) }
        var sourceOffset: Int64 = 0  // long long
        while sourceOffset < prefix {
            if cancelled() { throw JailError(errno: ECANCELED, path: self.path) }
            let count = cferry_copy_file_range(
                source,
                &sourceOffset,
                self.fd,
                nil,
                Int(min(Int64(step), prefix - sourceOffset))
            )
            if count < 0 {
                if errno == EINTR { continue }
                throw JailError(errno: errno, path: self.path)
            }
            if count == 0 { throw JailError(errno: EIO, path: self.path) }  // the file shrank meanwhile
        }
    }

    /// Feeds the first `keptPrefix` bytes of the old file to `digests`, so the upload's digests cover the whole
    /// finished file (blocking). The commit checks that the file did not change since (`FileVersion`).
    func digestPrefix(into digests: UploadDigests) throws(JailError) {
        let prefix = self.keptPrefix
        guard prefix > 0, !digests.isEmpty else { return }
        let reader = openat(self.directory, self.finalName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard reader >= 0 else { throw JailError(errno: errno, path: self.path) }
        defer { close(reader) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        while offset < prefix {
            let wanted = Int(min(Int64(buffer.count), prefix - offset))
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
        self.wrote(bytes.count)
    }

    /// With `writeBehind` (durable uploads), every batch written starts its own write to disk at once, so the disk
    /// works while the network brings the next batches and the fsync at the commit has little left to do (measured:
    /// BENCHMARKS.md, "Durable uploads"). Called after each write, by one writer at a time.
    func wrote(_ count: Int) {
        guard self.writeBehind, count > 0 else { return }
        let start = self.written.withLockedValue { written -> Int64 in
            defer { written += Int64(count) }
            return written
        }
        _ = cferry_start_writeback(self.fd, start + self.initialSize, Int64(count))
    }

    /// Makes the upload visible, if the quota books admit it: replaces the file atomically (rename), or adds the
    /// received bytes at its end. Returns the finished file's version and the usage delta to record, and whether the
    /// digests taken while receiving cover the finished file.
    ///
    /// Runs under the user's `changes` lock: the size of the file being replaced or extended is read, the books
    /// decide, and the disk changes, with no other change of that user's files in between (so two appends, or an
    /// append and a STOR, never lose each other's bytes).
    ///
    /// DURABILITY (`durable`): the data is on disk before it becomes visible (fsync of the file before the rename,
    /// of the directory after it), so a 226 upload does not come back empty after a power loss; a write-back error
    /// fails the upload and leaves the previous file as it was.
    ///
    /// `sameBase`: the commit requires the file to be the one the upload began with (its digest covers the old
    /// prefix); otherwise it is refused with 450 and nothing changes.
    func commit(
        books: UploadBooks?,
        durable: Bool,
        sameBase: Bool
    ) throws -> (version: FileVersion, delta: (bytes: Int64, files: Int64)?) {
        let lock = books?.account.changes
        lock?.lock()
        defer { lock?.unlock() }
        guard self.claim() else { throw JailError(errno: ECANCELED, path: self.path) }
        defer { close(self.directory) }
        var info = stat()
        guard fstat(self.fd, &info) == 0 else {
            let error = errno
            self.removeTemporary()
            throw JailError(errno: error, path: self.path)
        }
        let received = Int64(info.st_size)
        var previous = stat()
        var current: FileVersion? = nil
        if fstatat(self.directory, self.finalName, &previous, AT_SYMLINK_NOFOLLOW) == 0 {
            guard previous.st_mode & S_IFMT != S_IFDIR else {
                self.removeTemporary()
                throw JailError(errno: EISDIR, path: self.path)
            }
            if previous.st_mode & S_IFMT == S_IFREG { current = FileVersion(previous) }
        }
        if sameBase && current != self.base {
            self.removeTemporary()
            throw UploadConflict(path: self.path)
        }
        switch self.kind {
        case .replace:
            return try self.commitReplacing(books: books, durable: durable, size: received, previous: current)
        case .append(let requiredSize):
            if let requiredSize, current?.size != requiredSize {
                self.removeTemporary()
                throw UploadConflict(path: self.path)
            }
            return try self.commitAppending(books: books, durable: durable, size: received, previous: current)
        }
    }

    private func commitReplacing(
        books: UploadBooks?,
        durable: Bool,
        size: Int64,
        previous: FileVersion?
    ) throws -> (version: FileVersion, delta: (bytes: Int64, files: Int64)?) {
        let delta: (bytes: Int64, files: Int64)?
        do {
            delta = try books?.admit(previousSize: previous?.size, newSize: size)
        } catch {
            self.removeTemporary()
            throw error
        }
        // A write error that only shows at fsync or close must fail the upload.
        var failure: CInt = 0
        if durable && fsync(self.fd) != 0 { failure = errno }
        if close(self.fd) != 0 && failure == 0 { failure = errno }
        if failure != 0 {
            if let delta { books?.rollback(delta) }
            unlinkat(self.directory, self.temporaryName, 0)
            throw JailError(errno: failure, path: self.path)
        }
        guard renameat(self.directory, self.temporaryName, self.directory, self.finalName) == 0 else {
            let error = errno
            if let delta { books?.rollback(delta) }
            unlinkat(self.directory, self.temporaryName, 0)
            throw JailError(errno: error, path: self.path)
        }
        if durable { Self.syncDirectory(self.directory) }
        // The committed file's version (the rename moved its change time), for the digest cache.
        var committed = stat()
        _ = fstatat(self.directory, self.finalName, &committed, AT_SYMLINK_NOFOLLOW)
        return (FileVersion(committed), delta)
    }

    private func commitAppending(
        books: UploadBooks?,
        durable: Bool,
        size: Int64,
        previous: FileVersion?
    ) throws -> (version: FileVersion, delta: (bytes: Int64, files: Int64)?) {
        let start = previous?.size ?? 0
        let delta: (bytes: Int64, files: Int64)?
        do {
            delta = try books?.admit(previousSize: previous?.size, newSize: start + size)
        } catch {
            self.removeTemporary()
            throw error
        }
        let target = openat(
            self.directory,
            self.finalName,
            O_WRONLY | O_NOFOLLOW | O_CLOEXEC | (previous == nil ? O_CREAT | O_EXCL : 0),
            0o644
        )
        guard target >= 0 else {
            let error = errno
            if let delta { books?.rollback(delta) }
            self.removeTemporary()
            throw JailError(errno: error, path: self.path)
        }
        // Undo: the file goes back to its old length (or away, if this append created it).
        func fail(_ error: CInt) -> JailError {
            if previous == nil {
                unlinkat(self.directory, self.finalName, 0)
            } else {
                _ = ftruncate(target, off_t(start))
            }
            close(target)
            if let delta { books?.rollback(delta) }
            self.removeTemporary()
            return JailError(errno: error, path: self.path)
        }
        var sourceOffset: Int64 = 0  // long long
        var targetOffset: Int64 = start
        while sourceOffset < size {
            let count = cferry_copy_file_range(self.fd, &sourceOffset, target, &targetOffset, Int(size - sourceOffset))
            if count < 0 {
                if errno == EINTR { continue }
                throw fail(errno)
            }
            if count == 0 { throw fail(EIO) }
        }
        if durable && fsync(target) != 0 { throw fail(errno) }
        var committed = stat()
        _ = fstat(target, &committed)
        guard close(target) == 0 else { throw fail(errno) }
        if durable && previous == nil { Self.syncDirectory(self.directory) }
        self.removeTemporary()
        return (FileVersion(committed), delta)
    }

    /// fsync of a directory (after a rename or create in it), so the new entry survives a power loss. The directory
    /// handle may be an `O_PATH` one, which fsync refuses: it is reopened for reading.
    static func syncDirectory(_ directory: CInt) {
        let readable = openat(directory, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard readable >= 0 else { return }
        _ = fsync(readable)
        close(readable)
    }

    /// Throws the upload away unless it was committed; the previous file (if any) is untouched.
    func discardIfPending() {
        guard self.claim() else { return }
        self.removeTemporary()
        close(self.directory)
    }

    /// True for the first caller only.
    private func claim() -> Bool {
        self.finished.withLockedValue { done in
            defer { done = true }
            return !done
        }
    }

    /// Closes and removes the temporary file (not the directory).
    private func removeTemporary() {
        close(self.fd)
        unlinkat(self.directory, self.temporaryName, 0)
    }
}

/// The file changed while an upload that depends on its old content ran (REST n at the end of a file that is no
/// longer n bytes long, or a digest that covered the old first bytes): nothing is committed, the client may retry.
struct UploadConflict: FTPReplyError, CustomStringConvertible {
    var path: VirtualPath
    var description: String { "\(self.path) changed during the upload; nothing was stored, try again." }
    var reply: FTPReply { FTPReply(.fileActionNotTaken, self.description) }
}
