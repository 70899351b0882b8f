// Checksum commands: HASH with OPTS HASH and RANG (the Bryan/Kosse/Stenberg drafts) and the legacy X<algorithm>
// commands (XCRC, XMD5, XSHA, XSHA1, XSHA256, XSHA512). Only grammar and reply text live here. The hashing itself is
// in FerryIntegrity, and the session applies these rules.
//
// Sources:
// * draft-bryan-ftpext-hash-02 (Jan 2013), which followed draft-bryan-ftp-hash-00 to -08 and
//   draft-ietf-ftpext2-hash-00 to -04. Drafts before draft-ietf-ftpext2-hash-01 had no range field in the 213
//   reply. FileZilla Server and Cerberus implement one of those older drafts, and FileZilla Server leaves out the
//   path as well, so clients that read the reply (WinSCP, for example) accept both shapes.
// * draft-bryan-ftp-range-08 (RANG).
// * ProFTPD's mod_digest and mod_xfer, and the GlobalSCAPE/Serv-U XCRC documentation, for the legacy commands.

/// A hash algorithm offered through `HASH` and the legacy `X…` commands.
///
/// The raw value is the name used on the wire. draft-bryan-ftpext-hash-02 §3.1 requires the IANA "Hash Function
/// Textual Names" spelling (`SHA-256`, `SHA-1`, `MD5`), upper case when sent and compared case-insensitively when
/// received. CRC32 is not in that registry, so it is written `CRC32`, as ProFTPD writes it.
///
/// §5 says every server MUST support SHA-1 and SHOULD NOT default to anything weaker than SHA-1. We default to
/// SHA-256. ProFTPD defaults to SHA-1.
public enum HashAlgorithm: String, CaseIterable, Sendable {
    case sha256 = "SHA-256"
    case sha512 = "SHA-512"
    case sha1 = "SHA-1"
    case md5 = "MD5"
    case crc32 = "CRC32"

    /// The algorithm a new session starts with, and the one it returns to after REIN.
    public static let `default`: HashAlgorithm = .sha256

    /// The name as sent in FEAT, in `OPTS HASH` replies and in 213 replies.
    public var name: String { self.rawValue }

    /// Looks up an algorithm by name, ignoring case. The IANA names are accepted, and so are the spellings peers
    /// send without the dash (`SHA256`, `SHA1`, as in ProFTPD's configuration and the X… verbs), plus `SHA` for SHA-1
    /// (the `XSHA` verb) and `CRC-32`.
    public init?(name: String) {
        switch name.uppercased() {
        case "SHA-256", "SHA256": self = .sha256
        case "SHA-512", "SHA512": self = .sha512
        case "SHA-1", "SHA1", "SHA": self = .sha1
        case "MD5": self = .md5
        case "CRC32", "CRC-32": self = .crc32
        default: return nil
        }
    }

    /// How many bytes the digest has.
    public var digestByteCount: Int {
        switch self {
        case .sha256: return 32
        case .sha512: return 64
        case .sha1: return 20
        case .md5: return 16
        case .crc32: return 4
        }
    }

    /// How many hex digits the digest has on the wire. CRC32 is always 8, zero-padded and big-endian, the same as
    /// Python's `format(zlib.crc32(b), '08x')`.
    public var hexDigestLength: Int { self.digestByteCount * 2 }

    /// The FEAT line, without the one leading space that RFC 2389 requires (the FEAT formatter adds it):
    /// `HASH SHA-256*;SHA-512;SHA-1;MD5;CRC32`. The star marks the selected algorithm (draft §3.1).
    ///
    /// The draft's ABNF (`hashlist = 1*( hashname ["*"] ";" )`) puts a `;` after every name, and ProFTPD sends
    /// `HASH CRC32;MD5;SHA-1*;SHA-256;SHA-512;`. The draft's own examples (`HASH SHA-256;SHA-512;SHA-1*;MD5`) have no
    /// trailing `;`. Clients split on `;`, so both forms parse. We follow the examples. The draft says the order
    /// carries no meaning.
    public static func featLine(selected: HashAlgorithm) -> String {
        "HASH " + Self.allCases.map { $0 == selected ? $0.name + "*" : $0.name }.joined(separator: ";")
    }

    /// The legacy verb for this algorithm: `XSHA256`, `XSHA512`, `XSHA1`, `XMD5`, `XCRC`.
    public var legacyVerb: String {
        switch self {
        case .sha256: return "XSHA256"
        case .sha512: return "XSHA512"
        case .sha1: return "XSHA1"
        case .md5: return "XMD5"
        case .crc32: return "XCRC"
        }
    }

    /// The algorithm of a legacy verb, ignoring case: XCRC, XMD5, XSHA, XSHA1, XSHA256, XSHA512 (ProFTPD's
    /// mod_digest set; `XSHA` is an alias of `XSHA1`). `MD5` is not included: draft-twine-ftpmd5 gives it a different
    /// reply (`251 <path> <hex>`).
    public init?(legacyVerb verb: String) {
        switch verb.uppercased() {
        case "XSHA256": self = .sha256
        case "XSHA512": self = .sha512
        case "XSHA1", "XSHA": self = .sha1
        case "XMD5": self = .md5
        case "XCRC": self = .crc32
        default: return nil
        }
    }

    /// Every legacy verb we answer, for FEAT (ProFTPD lists each one on its own FEAT line) and for HELP.
    public static let legacyVerbs = ["XCRC", "XMD5", "XSHA", "XSHA1", "XSHA256", "XSHA512"]

    /// Parses what follows `OPTS HASH` (draft §3.2, `hashopts-cmd = "OPTS HASH" [ SP hashname ]`).
    ///
    /// Returns nil for the bare query form: the caller replies `200 <current name>`. Returns the algorithm to select:
    /// the caller stores it for the rest of the session (until REIN) and replies with `HashReply.optsReply(selected:)`,
    /// which is `200 <name>`. An unknown name gets 501 and the selection stays as it was. The draft's example text is
    /// "501 Unknown algorithm, current selection not changed", and ProFTPD also answers 501. More than one word gets
    /// 501 as well (ProFTPD: "Wrong number of parameters").
    ///
    ///     OPTS HASH           -> nil
    ///     OPTS HASH sha-512   -> .sha512
    ///     OPTS HASH CRC-37    -> 501
    public static func parseOPTS(_ value: String?) throws(FTPCommandParseError) -> HashAlgorithm? {
        let words = (value ?? "").split(separator: " ", omittingEmptySubsequences: true)
        if words.isEmpty { return nil }
        guard words.count == 1 else {
            throw FTPCommandParseError(.syntaxErrorInArguments, "OPTS HASH: wrong number of parameters.")
        }
        guard let algorithm = HashAlgorithm(name: String(words[0])) else {
            throw FTPCommandParseError(.syntaxErrorInArguments, "Unknown algorithm, current selection not changed.")
        }
        return algorithm
    }
}

/// A byte range selected with `RANG <start> <end>` (draft-bryan-ftp-range-08 §3).
///
/// Both ends are byte offsets from the start of the file, and the end is inclusive ("[NOTE: end-point is
/// inclusive.]"). `RANG 0 49` selects 50 bytes, and `RANG 0 0` selects one. ProFTPD stores the range as
/// `start, end - start + 1`.
///
/// How a session applies it:
/// * `RANG` replies 350 (§3). An error follows only a syntax error. A range that does not fit the file is reported
///   by the command that uses it (§4.3).
/// * `RANG 1 0` resets the selection to the whole file and still gets 350. Any other start greater than its end gets
///   501, and the selection is reset as well (§3).
/// * The range applies to the next RETR, STOR or HASH. §4.3 says RANG "MUST be the last command issued before the
///   data transfer command", and its effect at any other time is undefined. ProFTPD clears it once it has been used,
///   and REST and RANG cancel each other (it honors one or the other, never both). We do the same.
/// * HASH with a range hashes only that range, and the 213 reply carries the range (draft-bryan-ftpext-hash-02
///   §3.3: `RANG 0 49` then `HASH f`, answered by `213 SHA-256 0-49 <hex> f`).
/// * The FEAT line is exactly `RANG STREAM` (§3.1).
public struct ByteRange: Hashable, Sendable {
    /// Offset of the first byte selected.
    public var start: Int64
    /// Offset of the last byte selected (inclusive). Never less than `start`.
    public var end: Int64

    public init(start: Int64, end: Int64) {
        precondition(start >= 0 && end >= start, "a RANG range needs 0 <= start <= end")
        self.start = start
        self.end = end
    }

    /// The FEAT line for RANG, without the leading space (§3.1).
    public static let featLine = "RANG STREAM"

    /// How many bytes the range selects (at least one).
    ///
    /// `RANG 0 9223372036854775807` is accepted (both ends fit in Int64) but selects 2^63 bytes, one more than Int64
    /// holds: the count saturates at `Int64.max` there instead of trapping, which would take the whole server down
    /// (caught by Fuzz/FuzzArguments' invariants). No file is that large, so the clamped range is exact either way.
    public var count: Int64 {
        let (count, overflow) = (self.end - self.start).addingReportingOverflow(1)
        return overflow ? .max : count
    }

    /// Parses the argument of RANG: two decimal numbers separated by a space.
    ///
    /// Returns nil for the reset form `RANG 1 0`, which gets 350 as well. Throws 501 for a syntax error, for numbers
    /// beyond Int64, and for start > end (other than `1 0`). After that 501 the caller must reset the selection to the
    /// whole file, as the draft requires.
    public static func parseRANG(_ argument: String) throws(FTPCommandParseError) -> ByteRange? {
        let words = argument.split(separator: " ", omittingEmptySubsequences: true)
        guard words.count == 2, let start = parseOffset(words[0]), let end = parseOffset(words[1]) else {
            throw FTPCommandParseError(.syntaxErrorInArguments, "RANG needs a start and an end byte offset.")
        }
        if start == 1 && end == 0 { return nil }
        guard start <= end else {
            throw FTPCommandParseError(.syntaxErrorInArguments, "RANG start must not be greater than end; range reset.")
        }
        return ByteRange(start: start, end: end)
    }

    /// The 350 text after a range has been stored.
    public var acceptedReplyText: String {
        "Restarting at \(self.start). End byte range at \(self.end)."
    }

    /// The 350 text after `RANG 1 0`.
    public static let resetReplyText = "Byte range reset to the whole file."

    /// The bytes of a file of `fileSize` bytes that HASH should digest, as a half-open range for
    /// `FileDigest.compute`.
    ///
    /// The end is clamped to the last byte of the file. §4.3 says a RETR whose end point is past the end of the file
    /// transfers up to the end. The 213 reply states the range that was actually hashed, so the client can see the
    /// clamp. (ProFTPD refuses such a RETR instead, because a silently shortened download looks like a success. A
    /// HASH reply does not have that problem.)
    ///
    /// A start at or past the end of the file throws 554, the code RFC 1123 and RFC 3659 §5.5 give to an invalid
    /// REST, which ProFTPD also uses for a RANG that does not fit. The HASH draft lists no code for this case, and
    /// the RANG draft's "transfer 0 octets" cannot be written as an inclusive range in a 213 reply.
    public func clamped(toFileSize fileSize: Int64) throws(FTPCommandParseError) -> Range<Int64> {
        guard self.start < fileSize else {
            throw FTPCommandParseError(
                FTPReplyCode(554),
                "RANG start \(self.start) is beyond the end of the file (\(max(fileSize, 0)) bytes)."
            )
        }
        return self.start..<(min(self.end, fileSize - 1) + 1)
    }

    /// A run of ASCII digits that fits in Int64 (no sign, no spaces).
    static func parseOffset(_ text: Substring) -> Int64? {
        guard !text.isEmpty, text.utf8.count <= 19, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        return Int64(text)
    }
}

/// Replies to `HASH` and `OPTS HASH` (draft-bryan-ftpext-hash-02 §3, §3.2 and §3.5).
///
///     hash-ok = "213" SP hashname SP start-point "-" end-point SP filehash SP <pathname> CRLF
///
/// The hash is in lower case (§3: "SHOULD be encoded in lowercase hexadecimal"). The numbers are a byte range with
/// an inclusive end, as RANG defines it: end-point "MUST be greater or equal than" start-point. The whole of a
/// 100-byte file is `0-99`, and after `RANG 0 49` it is `0-49` (the draft's examples).
///
/// ProFTPD's mod_digest deviates here: it writes the file size as the end (`0-14` for a 14-byte file). We follow
/// the draft. A zero-byte file has no inclusive range, so it is written `0-0`, which is also what ProFTPD sends
/// for it. The hash in that reply is the hash of no bytes.
///
/// The path is echoed as the client sent it (the draft's examples and ProFTPD both do this). It comes last, so it
/// may contain spaces. `FTPReply` replaces CR, LF and NUL in it.
///
/// The digest is computed as if the file were downloaded with TYPE I and MODE S (§3), which means the bytes on disk
/// whatever TYPE is in effect. Hashing can take long, and §3 allows a `213-` line every 5 to 10 seconds so an idle
/// timer does not drop the connection.
///
/// Error codes (§3.5): 450 the server is busy (too many hashes running) and the client may retry later; 500/501
/// syntax; 501 for an unknown algorithm in OPTS HASH; 550 file not found or not readable; 551 the file cannot be
/// delivered as TYPE I / MODE S; 552 this user may not use HASH; 553 the path is a directory (not a defined
/// operation); 556 refused by policy, for example a size limit, and the client should not retry.
public enum HashReply {
    /// The text of a 213 reply. `start` and `end` are written as given: pass the first and the last (inclusive) byte
    /// offsets, or use `text(algorithm:range:hexDigest:path:)`, which converts a half-open range.
    public static func text(
        algorithm: HashAlgorithm,
        start: Int64,
        end: Int64,
        hexDigest: String,
        path: String
    ) -> String {
        "\(algorithm.name) \(start)-\(end) \(hexDigest.lowercased()) \(path)"
    }

    /// The text of a 213 reply for the half-open `range` that was hashed. The end is written inclusive, and an
    /// empty range (only a zero-byte file can give one) is written `start-start`.
    public static func text(
        algorithm: HashAlgorithm,
        range: Range<Int64>,
        hexDigest: String,
        path: String
    ) -> String {
        let end = range.isEmpty ? range.lowerBound : range.upperBound - 1
        return Self.text(algorithm: algorithm, start: range.lowerBound, end: end, hexDigest: hexDigest, path: path)
    }

    /// The complete 213 reply for the half-open `range` that was hashed.
    public static func reply(
        algorithm: HashAlgorithm,
        range: Range<Int64>,
        hexDigest: String,
        path: String
    ) -> FTPReply {
        FTPReply(.fileStatus, Self.text(algorithm: algorithm, range: range, hexDigest: hexDigest, path: path))
    }

    /// The digest in the text of a 213 reply (the third word, lower-cased), the client's reading of ``text(algorithm:
    /// start:end:hexDigest:path:)``; nil when the text has fewer than three words.
    ///
    /// Words are split on the space *scalar*: a path that starts with a combining mark forms one Character with the
    /// space before it, which glued it to the digest and failed the verification (the fault Fuzz/FuzzListing found
    /// in the listing parser; Fuzz/FuzzReplyParser checks this round trip).
    public static func hexDigest(fromText text: String) -> String? {
        let words = text.unicodeScalars.split(separator: " ", maxSplits: 3)
        guard words.count >= 3 else { return nil }
        return String(Substring(words[2])).lowercased()
    }

    /// `200 <name>`: the answer to `OPTS HASH` (query) and to a successful `OPTS HASH <name>` (§3.2).
    public static func optsReply(selected: HashAlgorithm) -> FTPReply {
        FTPReply(.commandOK, selected.name)
    }

    /// The §3.5 failures, each with its reply code.
    public enum Failure: Hashable, Sendable {
        /// 450: too many hashes running; the client may retry later.
        case busy
        /// 550: no such file, or it cannot be read.
        case fileUnavailable
        /// 551: the file cannot be delivered as TYPE I / MODE S.
        case notDeliverableAsImage
        /// 552: this user may not use HASH.
        case notAllowed
        /// 553: the path names a directory or another thing that is not a plain file.
        case notAFile
        /// 556: refused by policy (for example a size limit); the client should not retry.
        case refusedByPolicy

        public var code: FTPReplyCode {
            switch self {
            case .busy: return .fileActionNotTaken
            case .fileUnavailable: return .fileUnavailable
            case .notDeliverableAsImage: return .pageTypeUnknown
            case .notAllowed: return .exceededStorage
            case .notAFile: return .fileNameNotAllowed
            case .refusedByPolicy: return FTPReplyCode(556)
            }
        }
    }

    /// A failure reply: `<code> <path>: <reason>`, the shape ProFTPD uses.
    public static func failure(_ failure: Failure, path: String, reason: String) -> FTPReply {
        FTPReply(failure.code, "\(path): \(reason)")
    }
}

/// The reply to a legacy checksum command (XCRC, XMD5, XSHA, XSHA1, XSHA256, XSHA512).
///
/// None of these commands has a specification. The code is 250, the code GlobalSCAPE/Serv-U document for XCRC
/// ("250 <XCRC>") and the one ProFTPD's mod_digest sends. Following ProFTPD, whose test suite expects
/// `uc(hexdigest)`, the text is only the digest in upper-case hex. ProFTPD sends it as the last line of a multi-line
/// reply (`250-Computing … digest`). We send one line, the form WinSCP asks for when it reads the reply.
/// Clients take the last word of the reply and compare without regard to case. WinSCP accepts any 2xx, since WS_FTP,
/// for example, answers 220. Failures: 450 file busy, 550 no such file or no read permission (GlobalSCAPE and
/// ProFTPD), and 501 for a bad range (ProFTPD).
public enum LegacyChecksumReply {
    /// The text of the 250 reply: the digest in upper-case hex.
    public static func text(hexDigest: String) -> String {
        hexDigest.uppercased()
    }

    /// The complete 250 reply.
    public static func reply(hexDigest: String) -> FTPReply {
        FTPReply(.fileActionOK, Self.text(hexDigest: hexDigest))
    }
}

/// The argument of a legacy checksum command: a path, optionally followed by a byte range.
///
/// The forms peers use are `XCRC <path>`, `XCRC <path> <end>` and `XCRC <path> <start> <end>` (GlobalSCAPE's
/// documentation, with `XCRC "/Program Files/…/chkrzm.exe" 0 42575` as its example). ProFTPD's help text gives
/// `<sp> pathname [<sp> start <sp> end]`. The numbers are offsets from the start of the file, and the end is
/// exclusive: ProFTPD hashes `end - start` bytes from `start`, refuses `start >= end` and refuses an end past the
/// file size, all with 501.
///
/// Names containing spaces:
/// * A name may be quoted: `"my file.txt" 0 5`. WinSCP quotes any name that contains a space, and ProFTPD's tests
///   use `XCRC "test file.txt" 0 5`. Inside the quotes `""` stands for one `"`, the convention of RFC 959's 257
///   replies. A backslash has no special meaning, since it is a valid character in a name. Only a name that starts
///   with `"` is quoted, so `my "odd" name` is taken as it stands.
/// * An unquoted argument whose last two words are decimal numbers, with something before them, is `path start end`.
///   So `my file 10 20` is the path `my file` with start 10 and end 20. A file really named `a 10 20` has to be
///   quoted. ProFTPD does not accept unquoted spaces in any form. It splits the line into words, so `my file 10 20`
///   is read as path `my` and start `file`, and refused.
/// * Otherwise an unquoted argument is entirely the path, so `report 2024` and `track 01` are names. The end-only
///   form is accepted only with a quoted name (`"file.bin" 100`). Without quotes, `file.bin 100` could be either
///   form, and ProFTPD refuses that form altogether as ambiguous.
public enum LegacyChecksumRequest {
    /// Splits a legacy argument into path and optional range. `start` is nil for the end-only form, and both are
    /// nil when no range was given. Throws 501 for an empty path, an unterminated quote, or anything other than
    /// one or two numbers after a quoted name. The path is checked like every other path argument (length, NUL).
    public static func parse(
        _ argument: String
    ) throws(FTPCommandParseError) -> (path: String, start: Int64?, end: Int64?) {
        if argument.unicodeScalars.first == "\"" {
            return try Self.parseQuoted(argument)
        }
        // Scalars, not Characters: a combining mark after a space must not glue two words together.
        let scalars = Substring(argument).unicodeScalars
        let words = scalars.split(separator: " ", omittingEmptySubsequences: true)
        if words.count >= 3,
            let start = ByteRange.parseOffset(Substring(words[words.count - 2])),
            let end = ByteRange.parseOffset(Substring(words[words.count - 1]))
        {
            // Everything before the number words, with its own spacing kept; trailing spaces belong to the separator.
            var path = scalars[..<words[words.count - 2].startIndex]
            while path.last == " " { path = path.dropLast() }
            return (try Self.validatedPath(String(Substring(path))), start, end)
        }
        return (try Self.validatedPath(argument), nil, nil)
    }

    /// The half-open range of a file of `fileSize` bytes to hash for a parsed request (ProFTPD's rules): no numbers
    /// means the whole file (even an empty one); a missing start means 0; the end may be the file size but not more;
    /// and start must be less than end. Violations get 501.
    public static func byteRange(
        start: Int64?,
        end: Int64?,
        fileSize: Int64
    ) throws(FTPCommandParseError) -> Range<Int64> {
        guard let end else { return 0..<max(fileSize, 0) }
        let start = start ?? 0
        guard end <= fileSize else {
            throw FTPCommandParseError(.syntaxErrorInArguments, "End \(end) exceeds the file size (\(fileSize)).")
        }
        guard start < end else {
            throw FTPCommandParseError(.syntaxErrorInArguments, "End (\(end)) must be greater than start (\(start)).")
        }
        return start..<end
    }

    private static func parseQuoted(
        _ argument: String
    ) throws(FTPCommandParseError) -> (path: String, start: Int64?, end: Int64?) {
        var path = String.UnicodeScalarView()
        var rest = Substring(argument).unicodeScalars.dropFirst()
        var closed = false
        while let scalar = rest.first {
            rest = rest.dropFirst()
            if scalar == "\"" {
                if rest.first == "\"" {
                    path.append("\"")
                    rest = rest.dropFirst()
                    continue
                }
                closed = true
                break
            }
            path.append(scalar)
        }
        guard closed else {
            throw FTPCommandParseError(.syntaxErrorInArguments, "Unterminated quoted path.")
        }
        let name = try Self.validatedPath(String(path))
        if rest.isEmpty { return (name, nil, nil) }
        guard rest.first == " " else {
            throw FTPCommandParseError(.syntaxErrorInArguments, "A space must follow the quoted path.")
        }
        let words = rest.split(separator: " ", omittingEmptySubsequences: true)
        let numbers = words.map { ByteRange.parseOffset(Substring($0)) }
        switch numbers.count {
        case 0:
            return (name, nil, nil)
        case 1:
            if let end = numbers[0] { return (name, nil, end) }
        case 2:
            if let start = numbers[0], let end = numbers[1] { return (name, start, end) }
        default:
            break
        }
        throw FTPCommandParseError(
            .syntaxErrorInArguments,
            "Expected a byte range (start and end offsets) after the path."
        )
    }

    private static func validatedPath(_ path: String) throws(FTPCommandParseError) -> String {
        guard !path.isEmpty else {
            throw FTPCommandParseError(.syntaxErrorInArguments, "A path is required.")
        }
        return try FTPCommand.validatePath(path)
    }
}
