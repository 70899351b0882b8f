/// A reply code as defined by RFC 959 §4.2 and its extensions (RFC 2228, 2389, 2428, 3659).
///
/// Codes are named so that the server never writes a bare number: `.fileActionOK` reads better than `250`,
/// and a typo cannot produce a code a client misreads.
public struct FTPReplyCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public var description: String { String(self.rawValue) }

    /// 1yz: positive preliminary.
    public var isPreliminary: Bool { (100..<200).contains(self.rawValue) }
    /// 2yz: positive completion.
    public var isCompletion: Bool { (200..<300).contains(self.rawValue) }
    /// 3yz: positive intermediate.
    public var isIntermediate: Bool { (300..<400).contains(self.rawValue) }
    /// 4yz or 5yz: the command failed.
    public var isFailure: Bool { self.rawValue >= 400 }

    public static let restartMarker = FTPReplyCode(110)
    public static let dataConnectionAlreadyOpen = FTPReplyCode(125)
    public static let fileStatusOK = FTPReplyCode(150)
    public static let commandOK = FTPReplyCode(200)
    public static let commandSuperfluous = FTPReplyCode(202)
    public static let systemStatus = FTPReplyCode(211)
    public static let directoryStatus = FTPReplyCode(212)
    public static let fileStatus = FTPReplyCode(213)
    public static let helpMessage = FTPReplyCode(214)
    public static let systemType = FTPReplyCode(215)
    public static let serviceReady = FTPReplyCode(220)
    public static let closingControl = FTPReplyCode(221)
    public static let closingDataConnection = FTPReplyCode(226)
    public static let enteringPassiveMode = FTPReplyCode(227)
    public static let enteringExtendedPassiveMode = FTPReplyCode(229)
    public static let loggedIn = FTPReplyCode(230)
    public static let securityExchangeOK = FTPReplyCode(234)
    public static let fileActionOK = FTPReplyCode(250)
    public static let pathCreated = FTPReplyCode(257)
    public static let needPassword = FTPReplyCode(331)
    public static let needAccount = FTPReplyCode(332)
    public static let pendingFurtherInformation = FTPReplyCode(350)
    public static let serviceNotAvailable = FTPReplyCode(421)
    public static let cannotOpenDataConnection = FTPReplyCode(425)
    public static let transferAborted = FTPReplyCode(426)
    public static let fileActionNotTaken = FTPReplyCode(450)
    public static let localError = FTPReplyCode(451)
    public static let insufficientStorage = FTPReplyCode(452)
    public static let syntaxError = FTPReplyCode(500)
    public static let syntaxErrorInArguments = FTPReplyCode(501)
    public static let notImplemented = FTPReplyCode(502)
    public static let badSequence = FTPReplyCode(503)
    public static let parameterNotImplemented = FTPReplyCode(504)
    public static let notLoggedIn = FTPReplyCode(530)
    public static let needAccountForStoring = FTPReplyCode(532)
    public static let fileUnavailable = FTPReplyCode(550)
    public static let pageTypeUnknown = FTPReplyCode(551)
    public static let exceededStorage = FTPReplyCode(552)
    public static let fileNameNotAllowed = FTPReplyCode(553)
}

/// One reply from server to client: a code and one or more lines of text.
///
/// The formatter owns the wire form (RFC 959 §4.2): a single line is `CODE SP text CRLF`; a multi-line reply is
/// `CODE-first CRLF`, the middle lines, and `CODE SP last CRLF`. Middle lines that start with three digits are
/// indented by a space so no client mistakes them for the end of the reply. CR, LF and NUL inside the text are
/// replaced, so a file name can never inject a reply of its own.
public struct FTPReply: Hashable, Sendable, CustomStringConvertible {
    public var code: FTPReplyCode
    public var lines: [String]

    public init(_ code: FTPReplyCode, _ text: String) {
        self.code = code
        self.lines = [text]
    }

    public init(_ code: FTPReplyCode, lines: [String]) {
        precondition(!lines.isEmpty, "a reply needs at least one line")
        self.code = code
        self.lines = lines
    }

    /// The exact bytes to send, CRLF included.
    public var wireFormat: String {
        let code = self.code.description
        if self.lines.count == 1 {
            return "\(code) \(Self.sanitize(self.lines[0]))\r\n"
        }
        var out = Self.firstLine(code: self.code, self.lines[0])
        for line in self.lines.dropFirst().dropLast() { out += Self.middleLine(line) }
        out += "\(code) \(Self.sanitize(self.lines[self.lines.count - 1]))\r\n"
        return out
    }

    /// The first line of a multi-line reply, `CODE-text CRLF` (for replies sent in pieces, e.g. a long STAT).
    public static func firstLine(code: FTPReplyCode, _ text: String) -> String {
        "\(code.description)-\(Self.sanitize(text))\r\n"
    }

    /// A middle line of a multi-line reply, CRLF included: CR, LF and NUL replaced, and indented by a space if it
    /// starts with three digits, so that it can never end the reply or inject one (RFC 959 §4.2).
    public static func middleLine(_ line: String) -> String {
        let clean = Self.sanitize(line)
        if clean.utf8.count >= 3, clean.utf8.prefix(3).allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            return " " + clean + "\r\n"
        }
        return clean + "\r\n"
    }

    public var description: String { self.wireFormat }

    static func sanitize(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }) else { return text }
        return String(
            text.unicodeScalars.map { scalar -> Character in
                switch scalar {
                case "\r", "\n", "\0": return " "
                default: return Character(scalar)
                }
            }
        )
    }

    /// Quotes a path for a 257 reply (RFC 959 Appendix II): enclosed in double quotes, inner quotes doubled.
    public static func quotedPath(_ path: String) -> String {
        "\"" + path.replacingOccurrencesOfQuote() + "\""
    }

    /// The path in a 257 reply's text, the inverse of ``quotedPath(_:)``: from the first double quote to the next
    /// one that is not doubled, with doubled quotes made single. An unterminated path runs to the end of the text.
    /// Nil when the text holds no quote at all.
    ///
    /// Scalar by scalar, as ``quotedPath(_:)`` writes it: a quote followed by a combining mark is one Character, and
    /// reading Characters would end the path there (the fault Fuzz/FuzzListing found in the listing parser;
    /// Fuzz/FuzzReplyParser checks this round trip).
    public static func unquotedPath(_ text: String) -> String? {
        let scalars = text.unicodeScalars
        guard let open = scalars.firstIndex(of: "\"") else { return nil }
        var path = String.UnicodeScalarView()
        var index = scalars.index(after: open)
        while index < scalars.endIndex {
            let scalar = scalars[index]
            index = scalars.index(after: index)
            if scalar == "\"" {
                guard index < scalars.endIndex, scalars[index] == "\"" else { break }
                index = scalars.index(after: index)
            }
            path.append(scalar)
        }
        return String(path)
    }
}

extension String {
    fileprivate func replacingOccurrencesOfQuote() -> String {
        // Scalar by scalar: a quote followed by a combining mark is one Character but still a quote on the wire.
        guard self.unicodeScalars.contains("\"") else { return self }
        var out = String.UnicodeScalarView()
        for scalar in self.unicodeScalars {
            out.append(scalar)
            if scalar == "\"" { out.append(scalar) }
        }
        return String(out)
    }
}
