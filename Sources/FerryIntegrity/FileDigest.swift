import FerryProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why hashing a file stopped.
public struct FileDigestError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// `pread` failed; `errno` says why.
        case readFailed
        /// The file ended before the range did (it is shorter than the range, or was truncated while being hashed).
        case unexpectedEndOfFile
        /// The `cancelled` closure returned true.
        case cancelled
        /// The range starts below zero.
        case invalidRange
    }

    public var reason: Reason
    /// The `errno` of the failure: `pread`'s for `readFailed`, `ECANCELED` for `cancelled`, `EINVAL` for
    /// `invalidRange`, and 0 for `unexpectedEndOfFile` (no system call failed).
    public var errno: CInt
    /// The file offset at which it stopped.
    public var offset: Int64

    public init(_ reason: Reason, errno: CInt, offset: Int64) {
        self.reason = reason
        self.errno = errno
        self.offset = offset
    }

    public var description: String {
        switch self.reason {
        case .readFailed: return "read failed at offset \(self.offset): \(String(cString: strerror(self.errno)))"
        case .unexpectedEndOfFile: return "file ended at offset \(self.offset), before the end of the range"
        case .cancelled: return "hashing cancelled at offset \(self.offset)"
        case .invalidRange: return "invalid byte range starting at \(self.offset)"
        }
    }
}

/// Hashes a byte range of an open file.
///
/// These functions BLOCK: they read the whole range with `pread(2)`. Run them on a thread pool
/// (`NIOThreadPool.runIfActive`) or a detached task, never on an event loop.
///
/// Memory does not grow with the file: one buffer of `min(chunkSize, range.count)` bytes is allocated and reused
/// for every read. `pread` leaves the descriptor's file offset alone, so the same descriptor may be shared with a
/// transfer. `EINTR` is retried, and short reads simply continue from where they stopped. If the file ends before
/// the range does, `FileDigestError.unexpectedEndOfFile` is thrown. A server should reply 450 or 451 in that
/// case: the file changed while it was being hashed.
public enum FileDigest {
    /// The digest of the bytes of `fd` in `range` (half-open: `0..<size` is the whole file). An empty range gives
    /// the digest of no bytes without reading anything.
    public static func compute(
        fd: CInt,
        range: Range<Int64>,
        algorithm: HashAlgorithm,
        chunkSize: Int = 1 << 20
    ) throws -> [UInt8] {
        try Self.compute(fd: fd, range: range, algorithm: algorithm, chunkSize: chunkSize, cancelled: { false })
    }

    /// As `compute(fd:range:algorithm:chunkSize:)`, calling `cancelled` before each read and throwing
    /// `FileDigestError.cancelled` as soon as it returns true. A session can stop a long hash this way when it
    /// ends: pass a closure that reads an atomic flag or `Task.isCancelled`. The closure runs on the calling thread.
    public static func compute(
        fd: CInt,
        range: Range<Int64>,
        algorithm: HashAlgorithm,
        chunkSize: Int = 1 << 20,
        cancelled: () -> Bool
    ) throws -> [UInt8] {
        precondition(chunkSize > 0, "chunkSize must be positive")
        guard range.lowerBound >= 0 else {
            throw FileDigestError(.invalidRange, errno: EINVAL, offset: range.lowerBound)
        }
        var digest = StreamingDigest(algorithm)
        if range.isEmpty { return digest.finalize() }

        let bufferSize = Int(min(Int64(chunkSize), range.upperBound - range.lowerBound))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 16)
        defer { buffer.deallocate() }

        var offset = range.lowerBound
        while offset < range.upperBound {
            if cancelled() {
                throw FileDigestError(.cancelled, errno: ECANCELED, offset: offset)
            }
            let wanted = Int(min(Int64(bufferSize), range.upperBound - offset))
            let count = pread(fd, buffer.baseAddress, wanted, off_t(offset))
            if count < 0 {
                let error = errno
                if error == EINTR { continue }
                throw FileDigestError(.readFailed, errno: error, offset: offset)
            }
            if count == 0 {
                throw FileDigestError(.unexpectedEndOfFile, errno: 0, offset: offset)
            }
            digest.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            offset += Int64(count)
        }
        return digest.finalize()
    }
}
