import FerryProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// A directory being listed: its names are read and sorted once, their facts are read batch by batch.
///
/// A listing of any size is thus streamed (LIST/MLSD send each batch as it is ready) without holding every entry's
/// facts or the whole text in memory. Every step is blocking file I/O, so it runs on the I/O pool. Nothing changes
/// after `init` (the descriptor stays open until `deinit`), so batches may be read from several threads at once.
final class DirectoryListing: Sendable {
    private let jail: Jail
    private let path: VirtualPath
    private let directory: CInt
    /// Every name, NUL-terminated, one after the other as readdir gave them (one allocation for the lot).
    private let nameBytes: [CChar]
    /// Where each name starts in `nameBytes`, in bytewise order of the names.
    private let order: [Int]

    /// What is at `path` (links inside the jail followed): its facts, and for a directory its listing. One walk
    /// for both, and the listing reads the directory that was looked at.
    ///
    /// `maximumNameBytes` bounds the memory of the sorted names (a listing must hold them all to sort them): a
    /// directory whose names take more is refused with 550 rather than read into memory whole.
    static func open(
        jail: Jail,
        path: VirtualPath,
        maximumNameBytes: Int = .max
    ) throws(JailError) -> (target: FileFacts, listing: DirectoryListing?) {
        let location = try jail.resolve(path, followFinal: true)
        var info = stat()
        let fd: CInt
        if let name = location.name {
            guard fstatat(location.directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw JailError(errno: errno, path: path)
            }
            let target = Jail.facts(name: path.name ?? "/", info: info)
            guard target.kind == .directory else { return (target, nil) }
            fd = openat(location.directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        } else {
            fd = openat(location.directory, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        }
        guard fd >= 0 else { throw JailError(errno: errno, path: path) }
        // The facts of what was opened (a directory swapped in between is described as it is now).
        guard fstat(fd, &info) == 0 else {
            let error = errno
            close(fd)
            throw JailError(errno: error, path: path)
        }
        let listing = try DirectoryListing(jail: jail, path: path, directory: fd, maximumNameBytes: maximumNameBytes)
        return (Jail.facts(name: path.name ?? "/", info: info), listing)
    }

    /// Reads the names of the open directory `fd` (which it then owns), sorted bytewise; `.`, `..` and temporary
    /// uploads are left out.
    private init(jail: Jail, path: VirtualPath, directory fd: CInt, maximumNameBytes: Int) throws(JailError) {
        // The stream owns a duplicate; `fd` stays open for the fstatat calls of each batch.
        let streamFD = dup(fd)
        guard streamFD >= 0, let stream = fdopendir(streamFD) else {
            let error = errno
            if streamFD >= 0 { close(streamFD) }
            close(fd)
            throw JailError(errno: error, path: path)
        }
        var bytes: [CChar] = []
        var starts: [Int] = []
        let hidden = Array(Jail.temporaryPrefix.utf8CString.dropLast())
        while let entry = readdir(stream) {
            // Names plus one index per name.
            if bytes.count + starts.count * MemoryLayout<Int>.size > maximumNameBytes {
                closedir(stream)
                close(fd)
                throw JailError(errno: EOVERFLOW, path: path)
            }
            withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { pointer in
                    let name = UnsafeBufferPointer(start: pointer, count: strlen(pointer) + 1)
                    if name.elementsEqual([46, 0]) || name.elementsEqual([46, 46, 0]) || name.starts(with: hidden) {
                        return
                    }
                    starts.append(bytes.count)
                    bytes.append(contentsOf: name)
                }
            }
        }
        closedir(stream)
        // Bytewise order, as `ls` in the C locale; C strings, so the sort costs no Unicode work.
        bytes.withUnsafeBufferPointer { names in
            let base = names.baseAddress!
            starts.sort { strcmp(base + $0, base + $1) < 0 }
        }
        self.jail = jail
        self.path = path
        self.directory = fd
        self.nameBytes = bytes
        self.order = starts
    }

    deinit {
        close(self.directory)
    }

    /// The number of names read.
    var count: Int { self.order.count }

    /// The facts of the entries at `range` of the sorted names. Entries removed since the names were read are
    /// skipped; links are described by their targets inside the jail (dangling or escaping ones as links).
    /// `unique` (MLSD's fact) is filled in only when asked for. Safe to call from several threads at once for
    /// different ranges (the names never change).
    func facts(in range: Range<Int>, unique: Bool = true) -> [FileFacts] {
        var batch: [FileFacts] = []
        batch.reserveCapacity(range.count)
        self.nameBytes.withUnsafeBufferPointer { names in
            let base = names.baseAddress!
            for start in self.order[range.clamped(to: self.order.indices)] {
                let raw = base + start
                var info = stat()
                guard fstatat(self.directory, raw, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
                let name = String(cString: raw)
                if info.st_mode & S_IFMT == S_IFLNK, let child = try? self.path.appending(name),
                    var target = try? self.jail.facts(at: child)
                {
                    target.name = name
                    batch.append(target)
                } else {
                    batch.append(Jail.facts(name: name, info: info, unique: unique))
                }
            }
        }
        return batch
    }

    /// The ranges of at most `size` entries that cover the listing, in order.
    func batches(of size: Int) -> [Range<Int>] {
        stride(from: 0, to: self.order.count, by: max(1, size)).map { $0..<min($0 + max(1, size), self.order.count) }
    }
}
