import FerryIntegrity
import FerryProtocol
import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// Bytes moved so far in a transfer, for progress displays.
public struct TransferProgress: Sendable, Equatable {
    /// Bytes of the file done, including a resumed prefix.
    public var bytes: Int64
    /// The file's size when known.
    public var total: Int64?
}

/// How the result of a transfer was checked.
public enum Verification: Sendable, Equatable, CustomStringConvertible {
    /// The server's digest of the file equals ours. `command` is what asked for it (HASH, XSHA256, …);
    /// `beforeCommit` means the server also refused to commit anything else (SITE EXPECT).
    case digest(HashAlgorithm, command: String, beforeCommit: Bool)
    /// Only the sizes could be compared (the server offers no checksum command).
    case size
    /// Nothing could be compared.
    case unverified(String)

    public var description: String {
        switch self {
        case .digest(let algorithm, let command, let beforeCommit):
            let name = algorithm.name.lowercased().replacingOccurrences(of: "-", with: "")
            var text = "\(name) verified"
            if command != "HASH" { text += " (\(command))" }
            if beforeCommit { text += ", checked by the server before commit" }
            return text
        case .size: return "size verified (the server offers no checksum)"
        case .unverified(let reason): return "not verified: \(reason)"
        }
    }

    public var isVerified: Bool {
        if case .unverified = self { return false }
        return true
    }
}

/// What a finished transfer did.
public struct TransferResult: Sendable {
    /// The file's size.
    public var size: Int64
    /// Bytes that went over the network this time (less than `size` after a resume).
    public var transferred: Int64
    /// Where a resumed transfer started.
    public var resumedFrom: Int64
    public var seconds: Double
    public var verification: Verification
}

/// Downloads and uploads, each verified afterwards.
extension FTPClient {
    /// The checksum command to verify with, best first: HASH SHA-256, XSHA256, XSHA512, XSHA1, XMD5, XCRC.
    var checksumMethod: (algorithm: HashAlgorithm, command: String)? {
        if let hash = self.features["HASH"], hash.uppercased().contains("SHA-256") { return (.sha256, "HASH") }
        for (verb, algorithm) in [
            ("XSHA256", HashAlgorithm.sha256), ("XSHA512", .sha512), ("XSHA1", .sha1), ("XSHA", .sha1), ("XMD5", .md5),
            ("XCRC", .crc32),
        ] where self.features[verb] != nil {
            return (algorithm, verb)
        }
        return nil
    }

    /// Whether the server takes `SITE EXPECT` (Ferry's verify-before-commit).
    var offersExpect: Bool { self.features["SITE"]?.uppercased().contains("EXPECT") ?? false }

    /// The server's digest of a whole file, lower-case hex.
    public func remoteDigest(of path: String, algorithm: HashAlgorithm, command: String) async throws -> String {
        if command == "HASH" {
            try await self.expect("OPTS HASH \(algorithm.name)", "the server cannot hash with \(algorithm.name)")
            let reply = try await self.expect("HASH \(path)", "HASH \(path) failed")
            // 213 ALGO START-END HEX PATH
            guard let hex = HashReply.hexDigest(fromText: reply.lines[0]) else {
                throw FTPClientError(.protocolViolation, "unreadable HASH reply", reply: reply)
            }
            return hex
        }
        let reply = try await self.expect("\(command) \(path)", "\(command) \(path) failed")
        guard let hex = reply.lines.last?.split(separator: " ").last else {
            throw FTPClientError(.protocolViolation, "unreadable \(command) reply", reply: reply)
        }
        return hex.lowercased()
    }

    // MARK: - Download

    /// Downloads `remote` to `localPath` through a temporary `.NAME.ferry-part` beside it, renamed into place only
    /// after verification. With `resume`, an existing part file is continued with REST.
    public func download(
        _ remote: String,
        to localPath: String,
        resume: Bool = false,
        control: TransferControl? = nil,
        progress: (@Sendable (TransferProgress) -> Void)? = nil
    ) async throws -> TransferResult {
        try await self.download(
            remote,
            directory: nil,
            part: Self.partPath(for: localPath),
            final: localPath,
            resume: resume,
            control: control,
            progress: progress
        )
    }

    /// Downloads `remote` to the file `name` in `directory`, like `download(_:to:)`, for a name that came from the
    /// server: `name` must pass ``RemoteName`` (one component, not a part-file name), and the part file and the
    /// rename stay in that directory without following links (see ``LocalDirectory``).
    public func download(
        _ remote: String,
        into directory: LocalDirectory,
        as name: String,
        resume: Bool = false,
        control: TransferControl? = nil,
        progress: (@Sendable (TransferProgress) -> Void)? = nil
    ) async throws -> TransferResult {
        try LocalDirectory.check(name)
        return try await self.download(
            remote,
            directory: directory,
            part: RemoteName.partName(for: name),
            final: name,
            resume: resume,
            control: control,
            progress: progress
        )
    }

    /// The download itself: `part` and `final` are relative to `directory` (or paths, without one).
    private func download(
        _ remote: String,
        directory: LocalDirectory?,
        part: String,
        final localPath: String,
        resume: Bool,
        control: TransferControl?,
        progress: (@Sendable (TransferProgress) -> Void)?
    ) async throws -> TransferResult {
        let started = ContinuousClock.now
        let method = self.checksumMethod
        let total = try await self.size(remote)
        let fileIO = self.configuration.fileIO
        let file = try await fileIO.runIfActive {
            try LocalFile.openForDownload(part, in: directory, resume: resume)
        }
        defer { file.close() }
        var offset = file.size
        if let total, offset > total { offset = 0 }
        let digest = DigestBox(method?.algorithm ?? .sha256)
        if offset > 0 {
            let prefix = offset
            try await fileIO.runIfActive { try file.digest(upTo: prefix, into: digest) }
        } else {
            try await fileIO.runIfActive { try file.truncate() }
        }
        progress?(TransferProgress(bytes: offset, total: total))
        let written = try await self.withDataTransfer(
            "RETR \(remote)",
            prelude: offset > 0 ? ["REST \(offset)"] : [],
            control: control
        ) { inbound, channel in
            var position = offset
            var pending: EventLoopFuture<Void>? = nil
            var batch: [ByteBuffer] = []
            var batchStart = offset
            // Chunks are gathered into ~1 MiB batches; each batch is written and hashed side by side on two pool
            // threads while the next one arrives (each stage still sees the batches in order).
            func flush() async throws {
                guard !batch.isEmpty else { return }
                let buffers = batch
                let start = batchStart
                batch.removeAll(keepingCapacity: true)
                batchStart = position
                try await pending?.get()
                let writing = fileIO.runIfActive(eventLoop: channel.eventLoop) {
                    var at = start
                    for buffer in buffers {
                        try buffer.withUnsafeReadableBytes { try file.write($0, at: at) }
                        at += Int64(buffer.readableBytes)
                    }
                }
                let hashing = fileIO.runIfActive(eventLoop: channel.eventLoop) {
                    for buffer in buffers { buffer.withUnsafeReadableBytes { digest.update($0) } }
                }
                pending = writing.and(hashing).map { _ in }
            }
            for try await chunk in inbound {
                batch.append(chunk)
                position += Int64(chunk.readableBytes)
                if position - batchStart >= 1 << 20 { try await flush() }
                progress?(TransferProgress(bytes: position, total: total))
            }
            try await flush()
            try await pending?.get()
            return position - offset
        }
        let size = offset + written
        let verification: Verification
        do {
            verification = try await self.verify(
                remote,
                size: size,
                expectedSize: total,
                digest: digest,
                method: method
            )
        } catch {
            // SECURITY/INTEGRITY: a download that fails verification is not kept, not even as a part to resume.
            _ = try? await fileIO.runIfActive { file.discard() }
            throw error
        }
        try await fileIO.runIfActive { try file.commit(to: localPath) }
        return TransferResult(
            size: size,
            transferred: written,
            resumedFrom: offset,
            seconds: Self.seconds(since: started),
            verification: verification
        )
    }

    static func partPath(for localPath: String) -> String {
        let url = URL(fileURLWithPath: localPath)
        return url.deletingLastPathComponent().appendingPathComponent(RemoteName.partName(for: url.lastPathComponent))
            .path
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    private func verify(
        _ remote: String,
        size: Int64,
        expectedSize: Int64?,
        digest: DigestBox,
        method: (algorithm: HashAlgorithm, command: String)?,
        beforeCommit: Bool = false
    ) async throws -> Verification {
        if let expectedSize, expectedSize != size {
            throw FTPClientError(
                .verification,
                "\(remote): \(size) bytes transferred, the server's file has \(expectedSize)"
            )
        }
        guard let method else {
            guard expectedSize != nil else { return .unverified("the server offers neither a checksum nor SIZE") }
            return .size
        }
        let theirs = try await self.remoteDigest(of: remote, algorithm: method.algorithm, command: method.command)
        let ours = digest.hex
        guard theirs == ours else {
            throw FTPClientError(
                .verification,
                "\(remote): \(method.algorithm.name) mismatch: the server has \(theirs), the transferred data \(ours)"
            )
        }
        return .digest(method.algorithm, command: method.command, beforeCommit: beforeCommit)
    }

    // MARK: - Upload

    /// Uploads `localPath` to `remote`. Where the server offers SITE EXPECT, it is told the file's SHA-256 first
    /// and commits only a matching upload; afterwards the result is verified with the best checksum offered.
    /// With `resume`, the upload continues after the bytes the server already has (REST + STOR).
    public func upload(
        _ localPath: String,
        to remote: String,
        resume: Bool = false,
        control: TransferControl? = nil,
        progress: (@Sendable (TransferProgress) -> Void)? = nil
    ) async throws -> TransferResult {
        let started = ContinuousClock.now
        let fileIO = self.configuration.fileIO
        let file = try await fileIO.runIfActive { try LocalFile.openForReading(localPath) }
        defer { file.close() }
        let size = file.size
        let method = self.checksumMethod
        let expect = self.offersExpect
        var offset: Int64 = 0
        if resume, let remoteSize = try? await self.size(remote), remoteSize <= size { offset = remoteSize }
        // One pass over the file before sending: the digest the server must see (SITE EXPECT) and the one to
        // verify with afterwards.
        var algorithms: Set<HashAlgorithm> = []
        if expect { algorithms.insert(.sha256) }
        if let method { algorithms.insert(method.algorithm) }
        let wanted = algorithms
        let digests = try await fileIO.runIfActive { try file.digests(wanted) }
        if expect, let sha256 = digests[.sha256] {
            try await self.expect("SITE EXPECT SHA-256 \(sha256) \(size)", "SITE EXPECT refused")
        }
        progress?(TransferProgress(bytes: offset, total: size))
        let chunkSize = 1 << 20
        let sent = try await self.withDataTransfer(
            "STOR \(remote)",
            prelude: offset > 0 ? ["REST \(offset)"] : [],
            control: control
        ) { _, channel in
            var position = offset
            var pending: EventLoopFuture<Void>? = nil
            while position < size {
                try Task.checkCancellation()
                if control?.isCancelled ?? false { throw CancellationError() }
                let length = Int(min(Int64(chunkSize), size - position))
                let at = position
                let chunk = try await fileIO.runIfActive { try file.read(length, at: at) }
                // One write in flight while the next chunk is read.
                try await pending?.get()
                pending = channel.writeAndFlush(chunk)
                position += Int64(length)
                progress?(TransferProgress(bytes: position, total: size))
            }
            try await pending?.get()
            // With TLS the flush completes only after the handshake: even an empty upload then ends cleanly.
            try await channel.writeAndFlush(ByteBuffer())
            return position - offset
        }
        let verification: Verification
        if let method, let ours = digests[method.algorithm] {
            let theirs = try await self.remoteDigest(of: remote, algorithm: method.algorithm, command: method.command)
            guard theirs == ours else {
                throw FTPClientError(
                    .verification,
                    "\(remote): \(method.algorithm.name) mismatch: the server has \(theirs), the local file \(ours)"
                )
            }
            verification = .digest(method.algorithm, command: method.command, beforeCommit: expect)
        } else if let remoteSize = try await self.size(remote) {
            guard remoteSize == size else {
                throw FTPClientError(
                    .verification,
                    "\(remote): the server has \(remoteSize) bytes, the local file \(size)"
                )
            }
            verification = .size
        } else {
            verification = .unverified("the server offers neither a checksum nor SIZE")
        }
        return TransferResult(
            size: size,
            transferred: sent,
            resumedFrom: offset,
            seconds: Self.seconds(since: started),
            verification: verification
        )
    }
}

/// A streaming digest fed from the I/O pool, one update at a time.
final class DigestBox: @unchecked Sendable {
    private var digest: StreamingDigest

    init(_ algorithm: HashAlgorithm) { self.digest = StreamingDigest(algorithm) }

    func update(_ bytes: UnsafeRawBufferPointer) { self.digest.update(bytes) }

    var hex: String { StreamingDigest.hex(self.digest.finalize()) }
}

/// A local file used by a transfer (blocking calls; run them on the I/O pool).
final class LocalFile: @unchecked Sendable {
    let fd: CInt
    /// Relative to `directory` when there is one.
    let path: String
    let size: Int64
    /// Kept open while the file is in use: the part file is renamed and removed relative to it.
    let directory: LocalDirectory?

    private init(fd: CInt, path: String, size: Int64, directory: LocalDirectory? = nil) {
        self.fd = fd
        self.path = path
        self.size = size
        self.directory = directory
    }

    private var directoryFD: CInt { self.directory?.fd ?? AT_FDCWD }

    /// The path for messages.
    private var displayPath: String { self.directory.map { $0.path + "/" + self.path } ?? self.path }

    static func error(_ what: String, _ path: String) -> FTPClientError {
        FTPClientError(.localIO, "\(what) \(path): \(String(cString: strerror(errno)))")
    }

    static func openForReading(_ path: String) throws -> LocalFile {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.error("cannot open", path) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            Glibc.close(fd)
            throw FTPClientError(.localIO, "\(path) is not a regular file")
        }
        return LocalFile(fd: fd, path: path, size: Int64(info.st_size))
    }

    /// Opens (creating it if needed) the part file of a download, relative to `directory` when given; its size is
    /// where a resume continues.
    ///
    /// SECURITY: the part file is the client's own name. Without `resume`, whatever is there is unlinked and a new
    /// file is created exclusively, so a symbolic or hard link planted at that name is removed, never written
    /// through. With `resume` the existing file is needed: it is opened with `O_NOFOLLOW` and must be a regular
    /// file.
    static func openForDownload(_ path: String, in directory: LocalDirectory? = nil, resume: Bool) throws -> LocalFile {
        let at = directory?.fd ?? AT_FDCWD
        let display = directory.map { $0.path + "/" + path } ?? path
        var flags = O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW
        if !resume {
            guard unlinkat(at, path, 0) == 0 || errno == ENOENT else { throw Self.error("cannot replace", display) }
            flags |= O_EXCL
        }
        let fd = openat(at, path, flags, 0o644)
        guard fd >= 0 else {
            if errno == ELOOP {
                throw FTPClientError(.localIO, "\(display) is a symbolic link: not followed, nothing written there")
            }
            throw Self.error("cannot create", display)
        }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            Glibc.close(fd)
            throw FTPClientError(.localIO, "\(display) is not a regular file")
        }
        return LocalFile(fd: fd, path: path, size: resume ? Int64(info.st_size) : 0, directory: directory)
    }

    func truncate() throws {
        guard ftruncate(self.fd, 0) == 0 else { throw Self.error("cannot truncate", self.displayPath) }
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        var done = 0
        while done < bytes.count {
            let count = pwrite(self.fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if count < 0 {
                if errno == EINTR { continue }
                throw Self.error("cannot write", self.displayPath)
            }
            done += count
        }
    }

    func read(_ length: Int, at offset: Int64) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(length)
        let count = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { pointer in
            var done = 0
            while done < length {
                let count = pread(self.fd, pointer.baseAddress! + done, length - done, off_t(offset) + off_t(done))
                if count < 0 {
                    if errno == EINTR { continue }
                    throw Self.error("cannot read", self.displayPath)
                }
                if count == 0 { break }
                done += count
            }
            return done
        }
        guard count == length else {
            throw FTPClientError(.localIO, "\(self.displayPath) changed while it was being sent")
        }
        return buffer
    }

    /// Feeds the first `length` bytes to `digest` (the part already downloaded, when resuming).
    func digest(upTo length: Int64, into digest: DigestBox) throws {
        var position: Int64 = 0
        while position < length {
            let chunk = try self.read(Int(min(1 << 20, length - position)), at: position)
            chunk.withUnsafeReadableBytes { digest.update($0) }
            position += Int64(chunk.readableBytes)
        }
    }

    /// Digests of the whole file with each algorithm, in one pass.
    func digests(_ algorithms: Set<HashAlgorithm>) throws -> [HashAlgorithm: String] {
        guard !algorithms.isEmpty else { return [:] }
        var states = algorithms.map { StreamingDigest($0) }
        var position: Int64 = 0
        while position < self.size {
            let chunk = try self.read(Int(min(1 << 20, self.size - position)), at: position)
            chunk.withUnsafeReadableBytes { bytes in
                for index in states.indices { states[index].update(bytes) }
            }
            position += Int64(chunk.readableBytes)
        }
        return Dictionary(uniqueKeysWithValues: states.map { ($0.algorithm, StreamingDigest.hex($0.finalize())) })
    }

    /// Renames the part file into place (atomically replacing an older file, or a link, of that name), relative to
    /// the file's directory when it has one.
    func commit(to finalPath: String) throws {
        guard fsync(self.fd) == 0 || errno == EINVAL else { throw Self.error("cannot sync", self.displayPath) }
        guard renameat(self.directoryFD, self.path, self.directoryFD, finalPath) == 0 else {
            throw Self.error("cannot rename to", self.directory.map { $0.path + "/" + finalPath } ?? finalPath)
        }
    }

    /// Removes the part file (a download that failed verification is not kept).
    func discard() { unlinkat(self.directoryFD, self.path, 0) }

    func close() { Glibc.close(self.fd) }
}

/// Transfers as byte streams, for programs that do not want files.
extension FTPClient {
    /// Downloads `remote`, handing each chunk to `consume` as it arrives, then verifies the whole stream like
    /// `download(_:to:)` does (a mismatch throws `.verification` after the last chunk).
    public func download(
        _ remote: String,
        control: TransferControl? = nil,
        into consume: (ByteBuffer) async throws -> Void
    ) async throws -> TransferResult {
        let started = ContinuousClock.now
        let method = self.checksumMethod
        let total = try await self.size(remote)
        let digest = DigestBox(method?.algorithm ?? .sha256)
        let size = try await self.withDataTransfer("RETR \(remote)", control: control) { inbound, _ in
            var count: Int64 = 0
            for try await chunk in inbound {
                chunk.withUnsafeReadableBytes { digest.update($0) }
                count += Int64(chunk.readableBytes)
                try await consume(chunk)
            }
            return count
        }
        let verification = try await self.verify(
            remote,
            size: size,
            expectedSize: total,
            digest: digest,
            method: method
        )
        return TransferResult(
            size: size,
            transferred: size,
            resumedFrom: 0,
            seconds: Self.seconds(since: started),
            verification: verification
        )
    }

    /// Uploads the bytes of `source` to `remote`, then verifies the server's copy against what was sent.
    /// (SITE EXPECT needs the digest before sending, which a stream cannot give; use the file variant for that.)
    public func upload<Source: AsyncSequence>(
        _ source: Source,
        to remote: String,
        control: TransferControl? = nil
    ) async throws -> TransferResult where Source.Element == ByteBuffer {
        let started = ContinuousClock.now
        let method = self.checksumMethod
        let digest = DigestBox(method?.algorithm ?? .sha256)
        let sent = try await self.withDataTransfer("STOR \(remote)", control: control) { _, channel in
            var count: Int64 = 0
            for try await chunk in source {
                if control?.isCancelled ?? false { throw CancellationError() }
                chunk.withUnsafeReadableBytes { digest.update($0) }
                count += Int64(chunk.readableBytes)
                try await channel.writeAndFlush(chunk)
            }
            try await channel.writeAndFlush(ByteBuffer())
            return count
        }
        let verification = try await self.verify(remote, size: sent, expectedSize: nil, digest: digest, method: method)
        return TransferResult(
            size: sent,
            transferred: sent,
            resumedFrom: 0,
            seconds: Self.seconds(since: started),
            verification: verification
        )
    }
}
