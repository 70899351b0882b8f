import CFerrySystem
import FerryProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Opens that may run on an event loop because the kernel promises they will not block.
///
/// The walk in `resolve` is correct everywhere but costs a dozen system calls and a trip to the I/O pool (two
/// thread wake-ups, about 60 µs here, most of a small download's server time). When every directory on the path is
/// already in the kernel's lookup cache and no component is a symlink, `openat2` with `RESOLVE_CACHED`,
/// `RESOLVE_BENEATH`, `RESOLVE_NO_SYMLINKS` and `RESOLVE_NO_XDEV` does the same job in one call without I/O. It is
/// the rule io_uring uses to open inline. `RESOLVE_CACHED` covers the lookup only, so the fast path is used only for
/// homes on local file systems (checked when the jail is made) and never crosses into another mount (NFS, FUSE:
/// their opens talk to a server). Anything else (a cold cache, a link, a mount point, a kernel without openat2, any
/// error) returns nil, and the caller takes the pool and the full walk, which also gives the right error. These
/// functions only ever return successes, so the jail's semantics (links inside the home followed, everything else
/// refused) stay those of `resolve`.
extension Jail {
    /// Opens the regular file at `path` for reading, or returns nil when that cannot be done without blocking.
    func openForReadingIfCached(_ path: VirtualPath) -> (fd: CInt, size: Int64, version: FileVersion)? {
        guard self.allowsCachedOpen, let relative = self.cacheablePath(path) else { return nil }
        let home = cferry_openat2_cached(AT_FDCWD, self.homePath, cferry_o_path() | O_DIRECTORY | O_CLOEXEC, 0)
        guard home >= 0 else { return nil }
        defer { close(home) }
        // O_NONBLOCK: a FIFO must not hang the open. It stays: regular files of local file systems (the only ones
        // this path serves) read the same either way (open(2)).
        let fd = cferry_openat2_cached(home, relative, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 1)
        guard fd >= 0 else { return nil }
        return try? Self.readableFile(fd, path: path)
    }

    /// The path relative to the home, when the fast path may try it: not the home itself, and no component the
    /// walk would refuse (temporary uploads are never addressable).
    private func cacheablePath(_ path: VirtualPath) -> String? {
        guard !path.isRoot else { return nil }
        for component in path.components
        where component.isEmpty || component == "." || component == ".." || Self.isTemporaryName(component) {
            return nil
        }
        return path.components.joined(separator: "/")
    }
}
