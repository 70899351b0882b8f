import Testing

@testable import FerryProtocol

/// The wire form split into its lines (without the final empty piece after the last CRLF).
private func wireLines(_ reply: FTPReply) -> [Substring] {
    let wire = reply.wireFormat
    #expect(wire.hasSuffix("\r\n"))
    return wire.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast().map { line in
        #expect(line.last == 0x0D, "every line ends in CRLF")
        return Substring(line.dropLast())
    }
}

@Suite("FTPReplyCode")
struct FTPReplyCodeTests {
    @Test(arguments: [
        (FTPReplyCode.restartMarker, 110), (.dataConnectionAlreadyOpen, 125), (.fileStatusOK, 150), (.commandOK, 200),
        (.commandSuperfluous, 202), (.systemStatus, 211), (.directoryStatus, 212), (.fileStatus, 213),
        (.helpMessage, 214), (.systemType, 215), (.serviceReady, 220), (.closingControl, 221),
        (.closingDataConnection, 226), (.enteringPassiveMode, 227), (.enteringExtendedPassiveMode, 229),
        (.loggedIn, 230), (.securityExchangeOK, 234), (.fileActionOK, 250), (.pathCreated, 257),
        (.needPassword, 331), (.needAccount, 332), (.pendingFurtherInformation, 350), (.serviceNotAvailable, 421),
        (.cannotOpenDataConnection, 425), (.transferAborted, 426), (.fileActionNotTaken, 450), (.localError, 451),
        (.insufficientStorage, 452), (.syntaxError, 500), (.syntaxErrorInArguments, 501), (.notImplemented, 502),
        (.badSequence, 503), (.parameterNotImplemented, 504), (.unsupportedNetworkProtocol, 522),
        (.notLoggedIn, 530), (.needAccountForStoring, 532), (.fileUnavailable, 550), (.pageTypeUnknown, 551),
        (.exceededStorage, 552), (.fileNameNotAllowed, 553),
    ])
    func namedCodes(code: FTPReplyCode, value: Int) {
        #expect(code.rawValue == value)
        #expect(code.description == String(value))
        #expect(FTPReplyCode(rawValue: value) == code)
        #expect(FTPReplyCode(value) == code)
    }

    @Test(arguments: [
        (110, "preliminary"), (150, "preliminary"), (199, "preliminary"), (200, "completion"), (257, "completion"),
        (299, "completion"), (300, "intermediate"), (350, "intermediate"), (399, "intermediate"), (400, "failure"),
        (421, "failure"), (500, "failure"), (553, "failure"), (99, "none"),
    ])
    func categories(value: Int, category: String) {
        let code = FTPReplyCode(value)
        #expect(code.isPreliminary == (category == "preliminary"))
        #expect(code.isCompletion == (category == "completion"))
        #expect(code.isIntermediate == (category == "intermediate"))
        #expect(code.isFailure == (category == "failure"))
    }
}

@Suite("FTPReply wire format")
struct FTPReplyWireTests {
    @Test func singleLine() {
        let reply = FTPReply(.commandOK, "Command okay.")
        #expect(reply.wireFormat == "200 Command okay.\r\n")
        #expect(reply.description == reply.wireFormat)
        #expect(reply.lines == ["Command okay."])
        #expect(FTPReply(.serviceReady, "").wireFormat == "220 \r\n")
        #expect(FTPReply(.pathCreated, "\"/dir\" created.").wireFormat == "257 \"/dir\" created.\r\n")
        #expect(FTPReply(.fileActionOK, "ünïcødé 📁 ok").wireFormat == "250 ünïcødé 📁 ok\r\n")
    }

    @Test func oneElementLinesArrayIsASingleLine() {
        #expect(FTPReply(.commandOK, lines: ["OK"]) == FTPReply(.commandOK, "OK"))
        #expect(FTPReply(.commandOK, lines: ["OK"]).wireFormat == "200 OK\r\n")
    }

    @Test func twoLines() {
        #expect(FTPReply(.systemStatus, lines: ["first", "last"]).wireFormat == "211-first\r\n211 last\r\n")
    }

    @Test func featStyleMultiLine() {
        let reply = FTPReply(.systemStatus, lines: ["Features:", " EPSV", " MDTM", " SIZE", "End"])
        #expect(reply.wireFormat == "211-Features:\r\n EPSV\r\n MDTM\r\n SIZE\r\n211 End\r\n")
    }

    /// RFC 959 §4.2: a middle line starting with digits could be read as the end of the reply; it is indented.
    @Test(arguments: [
        ("226 fake end", " 226 fake end"),
        ("211 End", " 211 End"),
        ("211-more", " 211-more"),
        ("123abc", " 123abc"),
        ("000", " 000"),
        ("2024-01-01 report.txt", " 2024-01-01 report.txt"),
        ("12x", "12x"),
        ("1", "1"),
        ("", ""),
        ("a226 ", "a226 "),
        (" 226 already indented", " 226 already indented"),
        ("１２３ full-width digits", "１２３ full-width digits"),
    ])
    func middleLinesStartingWithDigitsAreIndented(middle: String, onWire: String) {
        let reply = FTPReply(.helpMessage, lines: ["Help:", middle, "End"])
        #expect(reply.wireFormat == "214-Help:\r\n\(onWire)\r\n214 End\r\n")
    }

    /// First and last lines carry the code themselves and are never indented.
    @Test func firstAndLastLinesAreNotIndented() {
        let reply = FTPReply(.helpMessage, lines: ["123 first", "456 middle", "789 last"])
        #expect(reply.wireFormat == "214-123 first\r\n 456 middle\r\n214 789 last\r\n")
    }

    @Test(arguments: [
        ("a\r\n226 injected", "a  226 injected"),
        ("a\n226 injected", "a 226 injected"),
        ("a\r226 injected", "a 226 injected"),
        ("nul\u{0}byte", "nul byte"),
        ("\r\n", "  "),
        ("\r\r\n\n\u{0}", "     "),
        ("tail\n", "tail "),
        ("é\r\nü", "é  ü"),
    ])
    func singleLineSanitisation(text: String, sanitised: String) {
        let wire = FTPReply(.fileActionNotTaken, text).wireFormat
        #expect(wire.utf8.elementsEqual("450 \(sanitised)\r\n".utf8))
    }

    /// No text, on any line, can make the reply contain a line that ends it early or starts another.
    @Test(arguments: [
        ["evil\r\n226 Transfer complete", "x"],
        ["first", "mid\r\n214 fake", "\n214 end", "last\r\n230 Logged in"],
        ["a", "226", "\r226 x", "\n\n", "b"],
        ["\u{0}", "\u{0}\u{0}", "\u{0}"],
        ["214 first", "214 second", "214 third"],
    ])
    func noReplyInjection(lines: [String]) {
        let reply = FTPReply(.helpMessage, lines: lines)
        let wire = reply.wireFormat
        // Exactly one CRLF per logical line and no other CR, LF or NUL.
        #expect(wire.utf8.filter { $0 == 0x0A }.count == lines.count)
        #expect(wire.utf8.filter { $0 == 0x0D }.count == lines.count)
        #expect(!wire.utf8.contains(0))
        let onWire = wireLines(reply)
        #expect(onWire.count == lines.count)
        // Only the last line starts with "214 ".
        for line in onWire.dropLast() {
            #expect(!line.hasPrefix("214 "), "early end: \(line.debugDescription)")
        }
        #expect(onWire.last?.hasPrefix("214 ") == true)
        if lines.count > 1 {
            #expect(onWire.first?.hasPrefix("214-") == true)
        }
    }

    @Test func sanitiseLeavesCleanTextAlone() {
        #expect(FTPReply.sanitize("plain text") == "plain text")
        #expect(FTPReply.sanitize("tab\tkept") == "tab\tkept")
        #expect(FTPReply.sanitize("日本語") == "日本語")
        #expect(FTPReply.sanitize("") == "")
        // Scalars that combine with CR/LF into one Character are still found.
        #expect(FTPReply.sanitize("a\r\n\u{301}b").utf8.elementsEqual("a  \u{301}b".utf8))
    }

    @Test func parseErrorCarriesItsReply() {
        let error = FTPCommandParseError(.syntaxErrorInArguments, "Bad.")
        #expect(error.reply == FTPReply(.syntaxErrorInArguments, "Bad."))
        #expect(error.reply.wireFormat == "501 Bad.\r\n")
    }

    @Test func emptyLinesArrayIsAProgrammerError() async {
        await #expect(processExitsWith: .failure) {
            _ = FTPReply(.commandOK, lines: [])
        }
    }
}

@Suite("FTPReply.quotedPath")
struct FTPReplyQuotedPathTests {
    @Test(arguments: [
        ("/", "\"/\""),
        ("/pub/incoming", "\"/pub/incoming\""),
        ("/a \"b\"", "\"/a \"\"b\"\"\""),
        ("\"", "\"\"\"\""),
        ("\"\"", "\"\"\"\"\"\""),
        ("/dir with space", "\"/dir with space\""),
        ("/résumé 📄", "\"/résumé 📄\""),
        ("", "\"\""),
    ])
    func quotesAreDoubled(path: String, quoted: String) {
        #expect(FTPReply.quotedPath(path) == quoted)
    }

    @Test func quotedPathInA257Reply() {
        let reply = FTPReply(.pathCreated, FTPReply.quotedPath("/say \"hi\"") + " is the current directory.")
        #expect(reply.wireFormat == "257 \"/say \"\"hi\"\"\" is the current directory.\r\n")
    }

    /// A quote followed by a combining mark is one Character but still a quote byte on the wire.
    @Test func quoteFollowedByCombiningMark() {
        #expect(FTPReply.quotedPath("/a\"\u{301}b").utf8.elementsEqual("\"/a\"\"\u{301}b\"".utf8))
    }

    /// The client's reading is the inverse, scalar by scalar. Read by Characters (as `FTPClient.pwd` did), the
    /// doubled quote before U+0301 was one `"` and one `"́` Character, and the path ended at `/a`.
    @Test(arguments: ["/", "/a \"b\"", "\"", "", "/a\"\u{301}b", "/\u{301}\"\u{301}", "/résumé 📄"])
    func unquotedPathIsTheInverse(path: String) throws {
        let text = FTPReply.quotedPath(path) + " is the current directory."
        let read = try #require(FTPReply.unquotedPath(text))
        #expect(read.unicodeScalars.elementsEqual(path.unicodeScalars))
    }

    @Test func unquotedPathOfOtherServers() {
        #expect(FTPReply.unquotedPath("\"/home/a\" is cwd") == "/home/a")
        #expect(FTPReply.unquotedPath("MKD ok \"/x y\"") == "/x y")
        #expect(FTPReply.unquotedPath("\"/unterminated") == "/unterminated")
        #expect(FTPReply.unquotedPath("/no/quotes") == nil)
    }
}
