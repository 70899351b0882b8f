import FerryIntegrity
import FerryProtocol
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// What a client announced with `SITE EXPECT ALGO HEX [SIZE]` for its next upload.
struct UploadExpectation: Sendable {
    var algorithm: HashAlgorithm
    var hex: String
    var size: Int64?

    /// Throws unless the received file has the announced digest (and size).
    func verify(digests: UploadDigests, size: Int64, path: VirtualPath) throws {
        let actual = digests.hex(self.algorithm) ?? ""
        if let expected = self.size, expected != size {
            throw ExpectationMismatch(
                text: "Upload rejected: received \(size) bytes, expected \(expected); \(path) was not changed."
            )
        }
        guard actual == self.hex else {
            throw ExpectationMismatch(
                text:
                    "Upload rejected: \(self.algorithm.name) of the received data is \(actual), expected \(self.hex); "
                    + "\(path) was not changed."
            )
        }
    }
}

/// A verify-before-commit failure: the upload was discarded, the previous file (if any) stays.
struct ExpectationMismatch: FTPReplyError, CustomStringConvertible {
    var text: String
    var description: String { self.text }
    var reply: FTPReply { FTPReply(.fileUnavailable, self.text) }
}

/// HASH, OPTS HASH, RANG, the legacy X… checksum commands and SITE EXPECT.
extension Session {
    func handleOPTSHASH(_ value: String?) async {
        do {
            if let algorithm = try HashAlgorithm.parseOPTS(value) { self.hashAlgorithm = algorithm }
            await self.reply(HashReply.optsReply(selected: self.hashAlgorithm))
        } catch {
            await self.reply(error.reply)
        }
    }

    func handleRANG(_ argument: String) async {
        self.restartOffset = 0
        do {
            self.byteRange = try ByteRange.parseRANG(argument)
            await self.reply(
                .pendingFurtherInformation,
                self.byteRange?.acceptedReplyText ?? ByteRange.resetReplyText
            )
        } catch {
            // draft-bryan-ftp-range §3: a bad range also resets the selection.
            self.byteRange = nil
            await self.reply(error.reply)
        }
    }

    /// `HASH path` (draft-bryan-ftpext-hash-02): `213 ALGO START-END HEX path`, over the RANG range if one is set.
    func handleHASH(_ text: String) async {
        let algorithm = self.hashAlgorithm
        let range = self.byteRange
        self.byteRange = nil
        guard let path = await self.resolve(text) else { return }
        let result = await self.checksum(of: path, algorithm: algorithm) { size throws(FTPCommandParseError) in
            try range?.clamped(toFileSize: size) ?? 0..<size
        }
        guard let (hex, bytes) = result else { return }
        // The reply's range is inclusive; an empty file is written 0-0 (as ProFTPD does).
        await self.reply(HashReply.reply(algorithm: algorithm, range: bytes, hexDigest: hex, path: text))
    }

    /// `XCRC`/`XMD5`/`XSHA1`/`XSHA256`/`XSHA512 path [start end]` (ProFTPD's mod_digest form): `250 HEX`.
    func handleLegacyChecksum(_ algorithm: HashAlgorithm, _ argument: String) async {
        let request: (path: String, start: Int64?, end: Int64?)
        do {
            request = try LegacyChecksumRequest.parse(argument)
        } catch {
            await self.reply(error.reply)
            return
        }
        guard let path = await self.resolve(request.path) else { return }
        let result = await self.checksum(of: path, algorithm: algorithm) { size throws(FTPCommandParseError) in
            try LegacyChecksumRequest.byteRange(start: request.start, end: request.end, fileSize: size)
        }
        guard let (hex, _) = result else { return }
        await self.reply(LegacyChecksumReply.reply(hexDigest: hex))
    }

    /// `SITE EXPECT ALGO HEX [SIZE]`: the next STOR/APPE is committed only if the file it produces has this digest.
    func handleSITEEXPECT(_ arguments: Substring) async {
        let words = arguments.split(separator: " ")
        guard (2...3).contains(words.count), let algorithm = HashAlgorithm(name: String(words[0])) else {
            await self.reply(.syntaxErrorInArguments, "SITE EXPECT takes ALGORITHM HEX-DIGEST [SIZE].")
            return
        }
        let hex = words[1].lowercased()
        guard hex.count == algorithm.hexDigestLength, hex.allSatisfy(\.isHexDigit) else {
            await self.reply(
                .syntaxErrorInArguments,
                "A \(algorithm.name) digest is \(algorithm.hexDigestLength) hexadecimal digits."
            )
            return
        }
        var size: Int64? = nil
        if words.count == 3 {
            guard let value = Int64(words[2]), value >= 0 else {
                await self.reply(.syntaxErrorInArguments, "SIZE must be a number of bytes.")
                return
            }
            size = value
        }
        self.expectation = UploadExpectation(algorithm: algorithm, hex: hex, size: size)
        await self.reply(.commandOK, "Next upload is committed only if its \(algorithm.name) is \(hex).")
    }

    /// Computes a file's digest over the range `select` picks for its size, replying with any error.
    ///
    /// The file is read on the I/O pool in bounded chunks (memory does not grow with the file). Whole-file digests
    /// are answered from the cache while the file is unchanged (uploads fill it as they write). Only the last
    /// complete version of a file can be hashed: uploads are invisible until committed. At most
    /// `maximumConcurrentChecksums` run at once; beyond that the reply is 450 and the client may retry.
    private func checksum(
        of path: VirtualPath,
        algorithm: HashAlgorithm,
        select: (Int64) throws(FTPCommandParseError) -> Range<Int64>
    ) async -> (String, Range<Int64>)? {
        guard let file = await self.withJail({ jail throws(JailError) in try jail.openForReading(path) }) else {
            return nil
        }
        defer { close(file.fd) }
        let range: Range<Int64>
        do {
            range = try select(file.size)
        } catch {
            await self.reply(error.reply)
            return nil
        }
        let whole = range == 0..<file.size
        if whole, let hex = self.context.digestCache.lookup(file.version, algorithm: algorithm) {
            return (hex, range)
        }
        // A long hash stops if the client goes away (the idle timer waits while a command runs).
        let control = self.control
        let fd = file.fd
        do {
            let digest = try await self.context.bulkIO.run(
                user: self.user?.record.name ?? "",
                eventLoop: self.control.eventLoop
            ) { cancelled in
                try FileDigest.compute(
                    fd: fd,
                    range: range,
                    algorithm: algorithm,
                    cancelled: { cancelled() || !control.isActive }
                )
            }
            let hex = StreamingDigest.hex(digest)
            if whole { self.context.digestCache.remember(file.version, algorithm: algorithm, hex: hex) }
            return (hex, range)
        } catch is BulkIOBusy {
            await self.reply(
                HashReply.failure(.busy, path: path.string, reason: "Too many checksums running, try again.")
            )
            return nil
        } catch {
            self.logger.warning("checksum failed", metadata: ["path": "\(path)", "error": "\(error)"])
            await self.reply(.localError, "\(path): checksum failed (the file changed or could not be read).")
            return nil
        }
    }
}
