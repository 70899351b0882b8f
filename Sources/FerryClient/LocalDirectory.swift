import FerryProtocol
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An open local directory that downloads are written beneath, for names that come from a server.
///
/// What it guarantees: every name is first checked with ``RemoteName`` (one component: not empty, `.`, `..`, no
/// `/` or NUL, at most NAME_MAX bytes, not a `.NAME.ferry-part` temporary), and every step below the directory is
/// taken with `openat`/`mkdirat`/`fstatat`/`renameat` relative to the descriptor of the step before it, with
/// `O_NOFOLLOW`. So nothing is ever created or written outside this directory: a symbolic link below it (planted
/// before the run, or swapped in during it) is never followed, and `..` is never a component. A link where a file
/// is to arrive is replaced by the file, not written through. The directory itself is opened by its path as the
/// user gave it, so a link the user named as the target is followed, as they meant. Hard links are not detected:
/// replacing a file by rename leaves any other link to it untouched, but a planted hard link at a temporary part
/// name is unlinked first, never written to.
public final class LocalDirectory: Sendable {
    /// Open for the object's lifetime: every operation below the directory starts from it.
    let fd: CInt
    /// The path, for messages only: it is never used to reach the directory again.
    public let path: String

    private init(fd: CInt, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close(self.fd) }

    /// Opens the directory at `path` (following links, like any path the user types), creating it and its
    /// parents when `create` is set.
    public convenience init(path: String, create: Bool) throws {
        if create {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw FTPClientError(.localIO, "cannot create \(path): \(error.localizedDescription)")
            }
        }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw LocalFile.error("cannot open directory", path) }
        self.init(fd: fd, path: path)
    }

    /// The directory reached through `components` (each checked with ``RemoteName``), never through a symbolic
    /// link; missing ones are created when `create` is set.
    public func descend(_ components: some Sequence<String>, create: Bool) throws -> LocalDirectory {
        var current = self
        for name in components {
            current = try current.subdirectory(name, create: create)
        }
        return current
    }

    /// The subdirectory `name`, never through a symbolic link; created when missing and `create` is set.
    public func subdirectory(_ name: String, create: Bool) throws -> LocalDirectory {
        try Self.check(name)
        let child = self.path + "/" + name
        if create, mkdirat(self.fd, name, 0o755) != 0, errno != EEXIST {
            throw LocalFile.error("cannot create", child)
        }
        let fd = openat(self.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = errno
            if let status = self.status(of: name), status.kind == .symlink {
                throw FTPClientError(.localIO, "\(child) is a symbolic link: not followed, nothing written there")
            }
            errno = reason
            throw LocalFile.error("cannot enter", child)
        }
        return LocalDirectory(fd: fd, path: child)
    }

    /// What is at `name` in this directory, without following a link; nil when nothing is.
    public func status(of name: String) -> LocalEntryStatus? {
        var info = stat()
        guard fstatat(self.fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        let kind: LocalEntryStatus.Kind
        switch info.st_mode & S_IFMT {
        case S_IFREG: kind = .file
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        default: kind = .other
        }
        return LocalEntryStatus(kind: kind, size: Int64(info.st_size), modified: Int64(info.st_mtim.tv_sec))
    }

    /// Sets the access and modification times of `name` (not of a link's target).
    public func setModificationTime(of name: String, to seconds: Int64) throws {
        var times = [timespec(tv_sec: Int(seconds), tv_nsec: 0), timespec(tv_sec: Int(seconds), tv_nsec: 0)]
        guard utimensat(self.fd, name, &times, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw LocalFile.error("cannot set the time of", self.path + "/" + name)
        }
    }

    static func check(_ name: String) throws {
        if let problem = RemoteName.problem(with: name) {
            throw FTPClientError(.localIO, "refusing the local name \(RemoteName.escaped(name)): \(problem)")
        }
    }
}

/// An entry of a local directory, as `lstat` sees it.
public struct LocalEntryStatus: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case file, directory, symlink, other
    }

    public var kind: Kind
    public var size: Int64
    /// Seconds since the epoch.
    public var modified: Int64
}
