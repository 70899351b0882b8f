import Testing

@testable import FerryProtocol

/// The reply code a throwing parser refuses with, or nil if it succeeds (or throws something else).
private func refusalCode<T>(_ body: () throws -> T) -> Int? {
    do {
        _ = try body()
        return nil
    } catch let error as FTPCommandParseError {
        return error.reply.code.rawValue
    } catch {
        return nil
    }
}

@Suite("Checksums")
struct ChecksumsTests {
    @Suite("HashAlgorithm")
    struct Algorithms {
        @Test("names: IANA spelling, any case, and the dashless forms peers send")
        func names() {
            #expect(HashAlgorithm(name: "SHA-256") == .sha256)
            #expect(HashAlgorithm(name: "sha-256") == .sha256)
            #expect(HashAlgorithm(name: "SHA256") == .sha256)
            #expect(HashAlgorithm(name: "Sha-512") == .sha512)
            #expect(HashAlgorithm(name: "sha512") == .sha512)
            #expect(HashAlgorithm(name: "SHA-1") == .sha1)
            #expect(HashAlgorithm(name: "sha1") == .sha1)
            #expect(HashAlgorithm(name: "md5") == .md5)
            #expect(HashAlgorithm(name: "crc32") == .crc32)
            #expect(HashAlgorithm(name: "CRC-32") == .crc32)
            for unknown in ["", "CRC-37", "CRC64", "SHA-384", "SHA-3", "MD4", " SHA-1", "SHA-1 "] {
                #expect(HashAlgorithm(name: unknown) == nil, "\(unknown)")
            }
            for algorithm in HashAlgorithm.allCases {
                #expect(HashAlgorithm(name: algorithm.name) == algorithm)
            }
        }

        @Test("digest lengths")
        func lengths() {
            #expect(HashAlgorithm.sha256.hexDigestLength == 64)
            #expect(HashAlgorithm.sha512.hexDigestLength == 128)
            #expect(HashAlgorithm.sha1.hexDigestLength == 40)
            #expect(HashAlgorithm.md5.hexDigestLength == 32)
            #expect(HashAlgorithm.crc32.hexDigestLength == 8)
            #expect(HashAlgorithm.default == .sha256)
        }

        @Test("FEAT line stars the selected algorithm")
        func featLine() {
            #expect(HashAlgorithm.featLine(selected: .sha256) == "HASH SHA-256*;SHA-512;SHA-1;MD5;CRC32")
            #expect(HashAlgorithm.featLine(selected: .crc32) == "HASH SHA-256;SHA-512;SHA-1;MD5;CRC32*")
            #expect(HashAlgorithm.featLine(selected: .sha1) == "HASH SHA-256;SHA-512;SHA-1*;MD5;CRC32")
            #expect(ByteRange.featLine == "RANG STREAM")
        }

        @Test("legacy verbs")
        func legacyVerbs() {
            #expect(HashAlgorithm(legacyVerb: "XCRC") == .crc32)
            #expect(HashAlgorithm(legacyVerb: "xmd5") == .md5)
            #expect(HashAlgorithm(legacyVerb: "XSHA") == .sha1)
            #expect(HashAlgorithm(legacyVerb: "XSHA1") == .sha1)
            #expect(HashAlgorithm(legacyVerb: "XSha256") == .sha256)
            #expect(HashAlgorithm(legacyVerb: "XSHA512") == .sha512)
            #expect(HashAlgorithm(legacyVerb: "MD5") == nil)
            #expect(HashAlgorithm(legacyVerb: "HASH") == nil)
            for algorithm in HashAlgorithm.allCases {
                #expect(HashAlgorithm(legacyVerb: algorithm.legacyVerb) == algorithm)
                #expect(HashAlgorithm.legacyVerbs.contains(algorithm.legacyVerb))
            }
        }

        @Test("OPTS HASH: query, select, unknown, too many words")
        func opts() throws {
            #expect(try HashAlgorithm.parseOPTS(nil) == nil)
            #expect(try HashAlgorithm.parseOPTS("") == nil)
            #expect(try HashAlgorithm.parseOPTS("SHA-512") == .sha512)
            #expect(try HashAlgorithm.parseOPTS("md5") == .md5)
            #expect(try HashAlgorithm.parseOPTS(" crc32 ") == .crc32)
            #expect(refusalCode { try HashAlgorithm.parseOPTS("CRC-37") } == 501)
            #expect(refusalCode { try HashAlgorithm.parseOPTS("SHA-1 SHA-256") } == 501)
            #expect(HashReply.optsReply(selected: .sha512).wireFormat == "200 SHA-512\r\n")
        }
    }

    @Suite("RANG")
    struct Rang {
        @Test("valid ranges, inclusive end")
        func valid() throws {
            #expect(try ByteRange.parseRANG("0 49") == ByteRange(start: 0, end: 49))
            #expect(try ByteRange.parseRANG("0 49")?.count == 50)
            #expect(try ByteRange.parseRANG("0 0")?.count == 1)
            #expect(try ByteRange.parseRANG("802816 1000000") == ByteRange(start: 802_816, end: 1_000_000))
            #expect(try ByteRange.parseRANG("5  7") == ByteRange(start: 5, end: 7))
            #expect(
                try ByteRange.parseRANG("0 9223372036854775807") == ByteRange(start: 0, end: .max)
            )
        }

        /// Caught by Fuzz/FuzzArguments: the count of this accepted range, 2^63, overflowed Int64 and trapped.
        @Test("the count of the largest range saturates instead of trapping")
        func largestCount() throws {
            #expect(try ByteRange.parseRANG("0 9223372036854775807")?.count == .max)
            #expect(try ByteRange.parseRANG("1 9223372036854775807")?.count == .max)
            #expect(try ByteRange.parseRANG("9223372036854775807 9223372036854775807")?.count == 1)
        }

        @Test("RANG 1 0 resets")
        func reset() throws {
            #expect(try ByteRange.parseRANG("1 0") == nil)
            #expect(try ByteRange.parseRANG("01 00") == nil)
        }

        @Test(
            "syntax errors and start > end get 501",
            arguments: [
                "", "5", "1 2 3", "a b", "-1 5", "+1 5", "1 -5", "0x10 20", "1.5 2", "10 5", "2 0",
                "0 9223372036854775808", "0 99999999999999999999",
            ]
        )
        func invalid(argument: String) {
            #expect(refusalCode { try ByteRange.parseRANG(argument) } == 501)
        }

        @Test("replies")
        func replies() {
            #expect(
                ByteRange(start: 802_816, end: 1_000_000).acceptedReplyText
                    == "Restarting at 802816. End byte range at 1000000."
            )
            #expect(!ByteRange.resetReplyText.isEmpty)
        }

        @Test("clamping to the file size")
        func clamping() throws {
            #expect(try ByteRange(start: 0, end: 49).clamped(toFileSize: 100) == 0..<50)
            #expect(try ByteRange(start: 0, end: 99).clamped(toFileSize: 100) == 0..<100)
            #expect(try ByteRange(start: 10, end: 500).clamped(toFileSize: 100) == 10..<100)
            #expect(try ByteRange(start: 99, end: 99).clamped(toFileSize: 100) == 99..<100)
            #expect(try ByteRange(start: 0, end: .max).clamped(toFileSize: 1) == 0..<1)
            #expect(refusalCode { try ByteRange(start: 100, end: 200).clamped(toFileSize: 100) } == 554)
            #expect(refusalCode { try ByteRange(start: 0, end: 0).clamped(toFileSize: 0) } == 554)
        }
    }

    @Suite("HASH replies")
    struct HashReplies {
        @Test("213 with an inclusive range, lower-case hex and the path as sent")
        func text() {
            #expect(
                HashReply.text(algorithm: .sha256, start: 0, end: 49, hexDigest: "169CD2", path: "filename.ext")
                    == "SHA-256 0-49 169cd2 filename.ext"
            )
            #expect(
                HashReply.text(algorithm: .sha1, range: 0..<100, hexDigest: "80bc95", path: "dir/my file.txt")
                    == "SHA-1 0-99 80bc95 dir/my file.txt"
            )
            #expect(
                HashReply.text(algorithm: .crc32, range: 0..<0, hexDigest: "00000000", path: "empty")
                    == "CRC32 0-0 00000000 empty"
            )
            #expect(
                HashReply.reply(algorithm: .md5, range: 10..<11, hexDigest: "ab", path: "f").wireFormat
                    == "213 MD5 10-10 ab f\r\n"
            )
        }

        /// Split on Characters (as `FTPClient.remoteDigest` did), the space before a path that starts with U+0301 was
        /// part of one Character, so the digest word swallowed the path and every such download failed to verify.
        @Test("the client reads the digest back, whatever the path", arguments: ["f", "my file", "\u{301}x", "", " a"])
        func hexDigestReadBack(path: String) {
            let text = HashReply.text(algorithm: .sha256, start: 0, end: 99, hexDigest: "CA9781", path: path)
            #expect(HashReply.hexDigest(fromText: text) == "ca9781")
        }

        @Test("an unreadable 213 text has no digest")
        func hexDigestMissing() {
            #expect(HashReply.hexDigest(fromText: "SHA-256 0-99") == nil)
            #expect(HashReply.hexDigest(fromText: "") == nil)
        }

        @Test("a path cannot inject a reply line")
        func injection() {
            let reply = HashReply.reply(algorithm: .md5, range: 0..<1, hexDigest: "ab", path: "x\r\n200 fake")
            #expect(reply.wireFormat == "213 MD5 0-0 ab x  200 fake\r\n")
        }

        @Test("failure codes from the draft")
        func failures() {
            #expect(HashReply.Failure.busy.code.rawValue == 450)
            #expect(HashReply.Failure.fileUnavailable.code.rawValue == 550)
            #expect(HashReply.Failure.notDeliverableAsImage.code.rawValue == 551)
            #expect(HashReply.Failure.notAllowed.code.rawValue == 552)
            #expect(HashReply.Failure.notAFile.code.rawValue == 553)
            #expect(HashReply.Failure.refusedByPolicy.code.rawValue == 556)
            #expect(
                HashReply.failure(.notAFile, path: "dir", reason: "Not a regular file").wireFormat
                    == "553 dir: Not a regular file\r\n"
            )
        }

        @Test("legacy reply: 250 and upper-case hex")
        func legacy() {
            #expect(LegacyChecksumReply.text(hexDigest: "e8b7be43") == "E8B7BE43")
            #expect(LegacyChecksumReply.reply(hexDigest: "e8b7be43").wireFormat == "250 E8B7BE43\r\n")
        }
    }

    @Suite("Legacy arguments")
    struct LegacyArguments {
        private func parse(_ argument: String) throws -> (String, Int64?, Int64?) {
            let result = try LegacyChecksumRequest.parse(argument)
            return (result.path, result.start, result.end)
        }

        @Test("plain names, with and without spaces")
        func plain() throws {
            #expect(try self.parse("file.txt") == ("file.txt", nil, nil))
            #expect(try self.parse("my file.txt") == ("my file.txt", nil, nil))
            #expect(try self.parse("/dir/sub dir/x") == ("/dir/sub dir/x", nil, nil))
            #expect(try self.parse("report 2024") == ("report 2024", nil, nil))
            // One trailing number is not a range without quotes: the end-only form would be ambiguous.
            #expect(try self.parse("file.bin 100") == ("file.bin 100", nil, nil))
            #expect(try self.parse("my \"odd\" name") == ("my \"odd\" name", nil, nil))
        }

        @Test("an unquoted name followed by two numbers is path start end")
        func unquotedRange() throws {
            #expect(try self.parse("test.txt 0 5") == ("test.txt", 0, 5))
            #expect(try self.parse("my file 10 20") == ("my file", 10, 20))
            #expect(try self.parse("a  b   0  5") == ("a  b", 0, 5))
            // Only two words: the numbers alone are the name.
            #expect(try self.parse("10 20") == ("10 20", nil, nil))
            // Numbers too large for Int64 are not offsets, so they stay part of the name.
            #expect(try self.parse("x 0 99999999999999999999") == ("x 0 99999999999999999999", nil, nil))
        }

        @Test("quoted names")
        func quoted() throws {
            #expect(try self.parse("\"test file.txt\"") == ("test file.txt", nil, nil))
            #expect(try self.parse("\"test file.txt\" 0 5") == ("test file.txt", 0, 5))
            #expect(try self.parse("\"a 10 20\"") == ("a 10 20", nil, nil))
            #expect(try self.parse("\"file.bin\" 100") == ("file.bin", nil, 100))
            #expect(
                try self.parse("\"/Program Files/MSN Gaming Zone/Windows/chkrzm.exe\" 0 42575")
                    == ("/Program Files/MSN Gaming Zone/Windows/chkrzm.exe", 0, 42_575)
            )
            #expect(try self.parse("\"say \"\"hi\"\".txt\" 1 2") == ("say \"hi\".txt", 1, 2))
            #expect(try self.parse("\"back\\slash\"") == ("back\\slash", nil, nil))
            #expect(try self.parse("\"x\"  ") == ("x", nil, nil))
        }

        @Test(
            "malformed arguments get 501",
            arguments: [
                "\"unterminated", "\"\"", "\"\" 0 5", "\"x\"y", "\"x\" a", "\"x\" 1 2 3", "\"x\" 1 b", "\"x\" -1 5",
                "\"x\0y\"",
            ]
        )
        func malformed(argument: String) {
            #expect(refusalCode { try LegacyChecksumRequest.parse(argument) } == 501)
        }

        @Test("NUL bytes and overlong paths are refused like any path")
        func pathChecks() {
            #expect(refusalCode { try LegacyChecksumRequest.parse("a\0b") } == 501)
            let long = String(repeating: "a", count: FTPCommand.maximumPathLength + 1)
            #expect(refusalCode { try LegacyChecksumRequest.parse(long) } == 501)
            #expect(refusalCode { try LegacyChecksumRequest.parse(long + " 0 5") } == 501)
        }

        @Test("byte ranges follow ProFTPD: exclusive end, within the file, start below end")
        func byteRanges() throws {
            #expect(try LegacyChecksumRequest.byteRange(start: nil, end: nil, fileSize: 14) == 0..<14)
            #expect(try LegacyChecksumRequest.byteRange(start: nil, end: nil, fileSize: 0) == 0..<0)
            #expect(try LegacyChecksumRequest.byteRange(start: 0, end: 5, fileSize: 14) == 0..<5)
            #expect(try LegacyChecksumRequest.byteRange(start: nil, end: 5, fileSize: 14) == 0..<5)
            #expect(try LegacyChecksumRequest.byteRange(start: 3, end: 14, fileSize: 14) == 3..<14)
            #expect(refusalCode { try LegacyChecksumRequest.byteRange(start: 0, end: 15, fileSize: 14) } == 501)
            #expect(refusalCode { try LegacyChecksumRequest.byteRange(start: 5, end: 5, fileSize: 14) } == 501)
            #expect(refusalCode { try LegacyChecksumRequest.byteRange(start: 6, end: 5, fileSize: 14) } == 501)
            #expect(refusalCode { try LegacyChecksumRequest.byteRange(start: nil, end: 0, fileSize: 14) } == 501)
        }
    }
}
