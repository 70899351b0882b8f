#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// Top-level wrappers, so the calls below do not resolve to `TLSFileIO.read`.
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}

private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, buffer, count)
}

/// Small POSIX file helpers: exact error reporting on read, exact modes and atomic replacement on write.
enum TLSFileIO {
    /// Certificate and key files are small; anything larger is not one.
    static let maximumFileSize = 1 << 20

    static func errorString(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    /// Reads a whole (small) regular file.
    static func read(path: String) throws(TLSCertificateError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT {
                throw .fileNotFound(path: path)
            }
            throw .fileUnreadable(path: path, reason: self.errorString(code))
        }
        defer { close(fd) }

        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw .fileUnreadable(path: path, reason: self.errorString(errno))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw .fileUnreadable(path: path, reason: "not a regular file")
        }
        guard Int(info.st_size) <= self.maximumFileSize else {
            throw .fileUnreadable(path: path, reason: "larger than \(self.maximumFileSize) bytes")
        }

        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .fileUnreadable(path: path, reason: self.errorString(errno))
            }
            if count == 0 { break }
            result.append(contentsOf: chunk[0..<count])
            if result.count > self.maximumFileSize {
                throw .fileUnreadable(path: path, reason: "larger than \(self.maximumFileSize) bytes")
            }
        }
        return result
    }

    /// Whether something exists at `path` (without following a final symbolic link's target).
    static func exists(path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Creates `path` (and its parents) with `mode` if it does not exist yet.
    static func createDirectory(path: String, mode: mode_t) throws(TLSCertificateError) {
        var info = stat()
        if stat(path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                throw .writeFailed(path: path, reason: "exists and is not a directory")
            }
            return
        }
        let parent = self.parentDirectory(of: path)
        if parent != path, !parent.isEmpty {
            try self.createDirectory(path: parent, mode: 0o755)
        }
        guard mkdir(path, mode) == 0 || errno == EEXIST else {
            throw .writeFailed(path: path, reason: self.errorString(errno))
        }
    }

    static func parentDirectory(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        if slash == trimmed.startIndex { return "/" }
        return String(trimmed[..<slash])
    }

    /// Writes `bytes` to `path` atomically: a temporary file in the same directory, created with exactly
    /// `mode` (never wider, whatever the umask), fsync'ed, then renamed over `path`.
    static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t) throws(TLSCertificateError) {
        let directory = self.parentDirectory(of: path)
        let temporary =
            "\(directory)/.\(self.lastComponent(of: path)).tmp-\(getpid())-\(UInt32.random(in: .min ... .max))"

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else {
            throw .writeFailed(path: path, reason: self.errorString(errno))
        }
        var succeeded = false
        defer {
            if !succeeded { unlink(temporary) }
        }

        do {
            defer { close(fd) }
            // The umask may have narrowed the mode; a key must never be wider than asked, a certificate may be readable.
            guard fchmod(fd, mode) == 0 else {
                throw TLSCertificateError.writeFailed(path: path, reason: self.errorString(errno))
            }
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { systemWrite(fd, $0.baseAddress, $0.count) }
                if written < 0 {
                    if errno == EINTR { continue }
                    throw TLSCertificateError.writeFailed(path: path, reason: self.errorString(errno))
                }
                offset += written
            }
            guard fsync(fd) == 0 else {
                throw TLSCertificateError.writeFailed(path: path, reason: self.errorString(errno))
            }
        }

        guard rename(temporary, path) == 0 else {
            throw .writeFailed(path: path, reason: self.errorString(errno))
        }
        succeeded = true

        // Make the rename durable; failure here does not undo a completed write.
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }

    static func lastComponent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// Parses an IPv4 or IPv6 literal into its network-order bytes.
    static func ipAddressBytes(_ address: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, address, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}
