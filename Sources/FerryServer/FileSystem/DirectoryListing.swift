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
    /// NUL-terminated names, as readdir gave them.
    private let names: [[CChar]]

    /// Opens the directory at `path` (links inside the jail followed) and reads its names, sorted bytewise;
    /// `.`, `..` and temporary uploads are left out.
    init(jail: Jail, path: VirtualPath) throws(JailError) {
        let location = try jail.resolve(path, followFinal: true)
        let fd: CInt
        if let name = location.name {
            fd = openat(location.directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        } else {
            fd = openat(location.directory, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        }
        guard fd >= 0 else { throw JailError(errno: errno, path: path) }
        // The stream owns a duplicate; `fd` stays open for the fstatat calls of each batch.
        let streamFD = dup(fd)
        guard streamFD >= 0, let stream = fdopendir(streamFD) else {
            let error = errno
            if streamFD >= 0 { close(streamFD) }
            close(fd)
            throw JailError(errno: error, path: path)
        }
        var names: [[CChar]] = []
        let hidden = Array(Jail.temporaryPrefix.utf8CString.dropLast())
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { pointer in
                    Array(UnsafeBufferPointer(start: pointer, count: strlen(pointer) + 1))
                }
            }
            if name == [46, 0] || name == [46, 46, 0] || name.starts(with: hidden) { continue }
            names.append(name)
        }
        closedir(stream)
        // Bytewise order, as `ls` in the C locale; C strings, so the sort costs no Unicode work.
        names.sort { strcmp($0, $1) < 0 }
        self.jail = jail
        self.path = path
        self.directory = fd
        self.names = names
    }

    deinit {
        close(self.directory)
    }

    /// The number of names read.
    var count: Int { self.names.count }

    /// The facts of the entries at `range` of the sorted names. Entries removed since the names were read are
    /// skipped; links are described by their targets inside the jail (dangling or escaping ones as links).
    /// Safe to call from several threads at once for different ranges (the names never change).
    func facts(in range: Range<Int>) -> [FileFacts] {
        var batch: [FileFacts] = []
        batch.reserveCapacity(range.count)
        for raw in self.names[range.clamped(to: self.names.indices)] {
            var info = stat()
            guard fstatat(self.directory, raw, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            let name = raw.withUnsafeBytes { String(decoding: $0.dropLast(), as: UTF8.self) }
            if info.st_mode & S_IFMT == S_IFLNK, let child = try? self.path.appending(name),
                var target = try? self.jail.facts(at: child)
            {
                target.name = name
                batch.append(target)
            } else {
                batch.append(Jail.facts(name: name, info: info))
            }
        }
        return batch
    }

    /// The ranges of at most `size` entries that cover the listing, in order.
    func batches(of size: Int) -> [Range<Int>] {
        stride(from: 0, to: self.names.count, by: max(1, size)).map { $0..<min($0 + max(1, size), self.names.count) }
    }
}
