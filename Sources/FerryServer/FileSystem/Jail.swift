import CFerrySystem
import FerryProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The one gate between a virtual path and the disk: every file operation of a session goes through here.
///
/// SECURITY: paths are never handed to the kernel whole. The walk opens the home directory, then each component
/// with `O_NOFOLLOW` relative to the directory opened before it, so a component that is a symlink is seen as
/// one and never followed by the kernel. Links are resolved here, inside the jail: a relative target is spliced
/// into the remaining path (its `..` stops at the home), an absolute target is accepted only if it lies under
/// the home's real path and is then walked the same way; anything else is refused. Intermediate directories are
/// held open while walking, and the final operation uses the `*at` call on the last directory with
/// `O_NOFOLLOW`, so swapping a directory for a link between check and use cannot lead out (no TOCTOU).
///
/// All functions block: callers run them on a thread pool, never on an event loop.
struct Jail: Sendable {
    /// The home directory as configured (may itself be reached through admin-made links).
    let homePath: String
    /// The home's canonical path, used to map absolute link targets back into the jail.
    let realHomePath: String
    /// Whether downloads may try the non-blocking open on the event loop: only on local file systems, where the
    /// open of a cached entry waits for no server (`Jail+Cached.swift`).
    let allowsCachedOpen: Bool

    /// Most links followed in one resolution (as the kernel's MAXSYMLINKS).
    static let maximumLinkHops = 40

    /// Prefix of temporary upload files; they are hidden from listings and never addressable by clients.
    static let temporaryPrefix = ".ferry-upload-"

    /// Whether `name` is a temporary upload's. SECURITY: bytes are compared, as the listings' filter does. Swift's
    /// `hasPrefix` compares characters, and `.ferry-upload-\u{301}x` (a combining accent on the hyphen) does not
    /// start with the prefix as characters: such a file could be stored, and then never be listed or counted.
    static func isTemporaryName(_ name: String) -> Bool {
        name.utf8.starts(with: Self.temporaryPrefix.utf8)
    }

    init(homePath: String) throws(JailError) {
        self.homePath = homePath
        guard let real = realpath(homePath, nil) else { throw JailError(errno: errno, path: .root) }
        self.realHomePath = String(cString: real)
        free(real)
        self.allowsCachedOpen = cferry_is_local_disk_file_system(self.realHomePath) == 1
    }

    /// A resolved location: an open directory and a name inside it (nil name = the directory itself).
    /// The caller owns `directory` and must close it (use `withResolved`).
    struct Location: ~Copyable {
        let directory: CInt
        let name: String?
        deinit { close(self.directory) }
    }

    /// Walks to the parent directory of `path` (following links inside the jail) and returns it with the final
    /// name. If `followFinal` is true and the final component is a link, it is resolved too, so the returned
    /// name is never a link at the time of the walk (and the caller's `O_NOFOLLOW` keeps it so).
    func resolve(_ path: VirtualPath, followFinal: Bool) throws(JailError) -> Location {
        let home = open(self.homePath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard home >= 0 else { throw JailError(errno: errno, path: path) }
        var stack: [CInt] = [home]
        var pending = Array(path.components.reversed())
        var hops = 0
        func closeAll() { for fd in stack { close(fd) } }

        while let component = pending.popLast() {
            if component == "." || component.isEmpty { continue }
            if component == ".." {
                // SECURITY: `..` from a link target never climbs above the home.
                if stack.count > 1 { close(stack.removeLast()) }
                continue
            }
            // SECURITY: a component is one name; a slash inside would make the kernel walk (and follow links)
            // on its own.
            if component.utf8.contains(UInt8(ascii: "/")) || Self.isTemporaryName(component) {
                closeAll()
                throw JailError(errno: ENOENT, path: path)
            }
            let isLast = pending.isEmpty
            let current = stack[stack.count - 1]
            let fd = openat(current, component, cferry_o_path() | O_NOFOLLOW | O_CLOEXEC)
            if fd < 0 {
                let error = errno
                if isLast && error == ENOENT {
                    // The final name may not exist yet (STOR, MKD, RNTO).
                    stack.removeLast()
                    for other in stack { close(other) }
                    return Location(directory: current, name: component)
                }
                closeAll()
                throw JailError(errno: error, path: path)
            }
            var info = stat()
            guard fstat(fd, &info) == 0 else {
                let error = errno
                close(fd)
                closeAll()
                throw JailError(errno: error, path: path)
            }
            let type = info.st_mode & S_IFMT
            if type == S_IFLNK && (!isLast || followFinal) {
                let target = Self.readLink(fd)
                close(fd)
                hops += 1
                guard let target, hops <= Self.maximumLinkHops else {
                    closeAll()
                    throw JailError(errno: ELOOP, path: path)
                }
                if target.hasPrefix("/") {
                    guard let inside = self.relativeToHome(target) else {
                        // SECURITY: an absolute link that leaves the home is never followed.
                        closeAll()
                        throw JailError(errno: EACCES, path: path, escapes: true)
                    }
                    for fd in stack.dropFirst() { close(fd) }
                    stack.removeSubrange(1...)
                    pending.append(contentsOf: inside.reversed())
                } else {
                    pending.append(
                        contentsOf: target.unicodeScalars.split(separator: "/").map {
                            String(String.UnicodeScalarView($0))
                        }
                        .reversed()
                    )
                }
                continue
            }
            if isLast {
                close(fd)
                stack.removeLast()
                for other in stack { close(other) }
                return Location(directory: current, name: component)
            }
            guard type == S_IFDIR else {
                close(fd)
                closeAll()
                throw JailError(errno: ENOTDIR, path: path)
            }
            // The O_PATH handle is the directory to go on from: the `*at` calls take it, it is the very inode just
            // checked, and walking through it needs search permission only, as the kernel's own path walk (and
            // `openForReadingIfCached`) does. Listings reopen the final directory for reading.
            stack.append(fd)
        }
        // The path resolved to a directory held on the stack (the root, or through links/`..`).
        let top = stack.removeLast()
        for other in stack { close(other) }
        return Location(directory: top, name: nil)
    }

    /// Components of an absolute target below the real home, or nil if it lies outside.
    func relativeToHome(_ target: String) -> [String]? {
        let targetParts = target.unicodeScalars.split(separator: "/").map { String(String.UnicodeScalarView($0)) }
        let homeParts = self.realHomePath.unicodeScalars.split(separator: "/").map {
            String(String.UnicodeScalarView($0))
        }
        guard targetParts.count >= homeParts.count, Array(targetParts.prefix(homeParts.count)) == homeParts else {
            return nil
        }
        // `..` after the home prefix is handled by the walk (clamped at the home).
        return Array(targetParts.dropFirst(homeParts.count))
    }

    static func readLink(_ fd: CInt) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlinkat(fd, "", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        buffer[count] = 0
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A file system failure with the errno it came from; it knows which FTP reply describes it.
/// An error that knows the FTP reply describing it to the client.
protocol FTPReplyError: Error {
    var reply: FTPReply { get }
}

struct JailError: FTPReplyError, CustomStringConvertible {
    var errno: CInt
    var path: VirtualPath
    /// True when the refusal is the jail's own (a link leading out of the home).
    var escapes: Bool = false

    init(errno: CInt, path: VirtualPath, escapes: Bool = false) {
        self.errno = errno
        self.path = path
        self.escapes = escapes
    }

    var description: String {
        if self.escapes { return "\(self.path): link leads outside the home directory" }
        return "\(self.path): \(String(cString: strerror(self.errno)))"
    }

    /// The reply a client gets. Paths in texts are the client's virtual ones; real paths never leak.
    var reply: FTPReply {
        if self.escapes { return FTPReply(.fileUnavailable, "\(self.path): Permission denied.") }
        switch self.errno {
        case ENOENT: return FTPReply(.fileUnavailable, "\(self.path): No such file or directory.")
        case ENOTDIR: return FTPReply(.fileUnavailable, "\(self.path): Not a directory.")
        case EISDIR: return FTPReply(.fileUnavailable, "\(self.path): Is a directory.")
        case EEXIST: return FTPReply(.fileUnavailable, "\(self.path): File exists.")
        case ENOTEMPTY: return FTPReply(.fileUnavailable, "\(self.path): Directory not empty.")
        case EACCES, EPERM: return FTPReply(.fileUnavailable, "\(self.path): Permission denied.")
        case ELOOP: return FTPReply(.fileUnavailable, "\(self.path): Too many levels of symbolic links.")
        case ENAMETOOLONG: return FTPReply(.fileNameNotAllowed, "\(self.path): File name too long.")
        case EINVAL, EXDEV: return FTPReply(.fileNameNotAllowed, "\(self.path): Operation not allowed.")
        case EOVERFLOW:
            return FTPReply(
                .fileUnavailable,
                "\(self.path): Too many entries to list at once (the server's listing limit); list a subdirectory."
            )
        case ENOSPC: return FTPReply(.insufficientStorage, "Insufficient storage space on the server.")
        case EDQUOT: return FTPReply(.exceededStorage, "Disk quota exceeded.")
        default: return FTPReply(.localError, "\(self.path): \(String(cString: strerror(self.errno))).")
        }
    }
}
