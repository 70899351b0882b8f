import Testing

@testable import FerryProtocol

/// The reply a control line is refused with, or nil if it parses.
private func refusal(_ line: String) -> FTPReply? {
    do throws(FTPCommandParseError) {
        _ = try FTPCommand.parse(line)
        return nil
    } catch {
        return error.reply
    }
}

/// The reply code a control line is refused with, or nil if it parses.
private func refusalCode(_ line: String) -> Int? {
    refusal(line)?.code.rawValue
}

@Suite("FTPCommand.parse: verbs")
struct FTPCommandVerbTests {
    static let valid: [(String, FTPCommand)] = [
        ("USER alice", .user("alice")),
        ("PASS secret", .pass(.init("secret"))),
        ("PASS", .pass(.init(""))),
        ("PASS ", .pass(.init(""))),
        ("ACCT", .acct),
        ("ACCT billing", .acct),
        ("QUIT", .quit),
        ("NOOP", .noop),
        ("SYST", .syst),
        ("TYPE I", .type(.image)),
        ("TYPE A", .type(.ascii)),
        ("MODE S", .mode(.stream)),
        ("STRU F", .stru(.file)),
        ("FEAT", .feat),
        ("OPTS UTF8 ON", .opts("UTF8 ON")),
        ("OPTS MLST type;size;", .opts("MLST type;size;")),
        ("HELP", .help(nil)),
        ("HELP SITE", .help("SITE")),
        ("STAT", .stat(nil)),
        ("STAT /pub", .stat("/pub")),
        ("PWD", .pwd),
        ("XPWD", .pwd),
        ("CWD /pub/incoming", .cwd("/pub/incoming")),
        ("XCWD docs", .cwd("docs")),
        ("CDUP", .cdup),
        ("XCUP", .cdup),
        ("MKD new", .mkd("new")),
        ("XMKD new", .mkd("new")),
        ("RMD old", .rmd("old")),
        ("XRMD old", .rmd("old")),
        ("DELE file.txt", .dele("file.txt")),
        ("RNFR a.txt", .rnfr("a.txt")),
        ("RNTO b.txt", .rnto("b.txt")),
        ("LIST", .list(nil)),
        ("LIST /pub", .list("/pub")),
        ("NLST", .nlst(nil)),
        ("NLST sub", .nlst("sub")),
        ("MLSD", .mlsd(nil)),
        ("MLSD /pub", .mlsd("/pub")),
        ("MLST", .mlst(nil)),
        ("MLST file.txt", .mlst("file.txt")),
        ("SIZE file.bin", .size("file.bin")),
        ("MDTM file.bin", .mdtm("file.bin")),
        ("RETR file.bin", .retr("file.bin")),
        ("STOR upload.bin", .stor("upload.bin")),
        ("APPE log.txt", .appe("log.txt")),
        ("REST 1024", .rest(1024)),
        ("ABOR", .abor),
        ("PASV", .pasv),
        ("EPSV", .epsv(.any)),
        ("PORT 127,0,0,1,4,1", .port(HostPort(family: .ipv4, host: "127.0.0.1", port: 1025))),
        ("EPRT |2|::1|6275|", .eprt(HostPort(family: .ipv6, host: "::1", port: 6275))),
        ("EPRT |1|10.0.0.7|21000|", .eprt(HostPort(family: .ipv4, host: "10.0.0.7", port: 21000))),
        ("ALLO 1000", .allo(1000)),
        ("ALLO 1000 R 512", .allo(1000)),
        ("ALLO", .allo(nil)),
        ("SITE CHMOD 755 file", .site("CHMOD 755 file")),
    ]

    @Test(arguments: valid)
    func parsesEveryVerb(line: String, expected: FTPCommand) throws {
        #expect(try FTPCommand.parse(line) == expected)
    }

    /// Verbs are case-insensitive; the argument keeps its case.
    @Test(arguments: valid)
    func verbsAreCaseInsensitive(line: String, expected: FTPCommand) throws {
        let verbEnd = line.firstIndex(of: " ") ?? line.endIndex
        let verb = line[..<verbEnd]
        let rest = line[verbEnd...]
        let mixed = String(
            verb.enumerated().map { index, character in
                index.isMultiple(of: 2) ? Character(character.lowercased()) : character
            }
        )
        #expect(try FTPCommand.parse(verb.lowercased() + rest) == expected)
        #expect(try FTPCommand.parse(mixed + rest) == expected)
    }

    @Test(arguments: [
        ("xpwd", FTPCommand.pwd),
        ("XpWd", .pwd),
        ("xcwd a", .cwd("a")),
        ("xcup", .cdup),
        ("xmkd A", .mkd("A")),
        ("xrmd B", .rmd("B")),
        ("retr File.TXT", .retr("File.TXT")),
    ])
    func aliasesAndCaseMixes(line: String, expected: FTPCommand) throws {
        #expect(try FTPCommand.parse(line) == expected)
    }

    /// Every case of the enum, with the verb it reports.
    @Test(arguments: [
        (FTPCommand.user("u"), "USER"), (.pass(.init("p")), "PASS"), (.acct, "ACCT"), (.quit, "QUIT"),
        (.noop, "NOOP"), (.syst, "SYST"), (.type(.image), "TYPE"), (.mode(.stream), "MODE"), (.stru(.file), "STRU"),
        (.feat, "FEAT"), (.opts("x"), "OPTS"), (.help(nil), "HELP"), (.stat(nil), "STAT"), (.pwd, "PWD"),
        (.cwd("d"), "CWD"), (.cdup, "CDUP"), (.mkd("d"), "MKD"), (.rmd("d"), "RMD"), (.dele("f"), "DELE"),
        (.rnfr("f"), "RNFR"), (.rnto("f"), "RNTO"), (.list(nil), "LIST"), (.nlst(nil), "NLST"), (.mlsd(nil), "MLSD"),
        (.mlst(nil), "MLST"), (.size("f"), "SIZE"), (.mdtm("f"), "MDTM"), (.retr("f"), "RETR"), (.stor("f"), "STOR"),
        (.appe("f"), "APPE"), (.rest(0), "REST"), (.abor, "ABOR"), (.pasv, "PASV"), (.epsv(.all), "EPSV"),
        (.port(HostPort(family: .ipv4, host: "1.2.3.4", port: 5)), "PORT"),
        (.eprt(HostPort(family: .ipv6, host: "::1", port: 5)), "EPRT"), (.allo(1), "ALLO"), (.site("x"), "SITE"),
    ])
    func verbName(command: FTPCommand, verb: String) {
        #expect(command.verb == verb)
    }

    /// The aliases report the canonical verb, not the alias the client typed.
    @Test(arguments: [("XPWD", "PWD"), ("XCWD a", "CWD"), ("XCUP", "CDUP"), ("XMKD a", "MKD"), ("XRMD a", "RMD")])
    func aliasReportsCanonicalVerb(line: String, verb: String) throws {
        #expect(try FTPCommand.parse(line).verb == verb)
    }

    /// Only SYST insists on having no argument; the other argument-less verbs ignore one.
    @Test func argumentsOfArgumentlessVerbs() throws {
        #expect(refusal("SYST x") == FTPReply(.syntaxErrorInArguments, "SYST takes no argument."))
        #expect(refusal("syst x") == FTPReply(.syntaxErrorInArguments, "SYST takes no argument."))
        #expect(try FTPCommand.parse("SYST ") == .syst)
        #expect(try FTPCommand.parse("NOOP x") == .noop)
        #expect(try FTPCommand.parse("QUIT now") == .quit)
        #expect(try FTPCommand.parse("ABOR x") == .abor)
        #expect(try FTPCommand.parse("PASV x") == .pasv)
        #expect(try FTPCommand.parse("FEAT x") == .feat)
        #expect(try FTPCommand.parse("PWD x") == .pwd)
        #expect(try FTPCommand.parse("CDUP x") == .cdup)
    }
}

@Suite("FTPCommand.parse: refusals")
struct FTPCommandRefusalTests {
    static let needArgument = [
        "USER", "TYPE", "MODE", "STRU", "OPTS", "CWD", "XCWD", "MKD", "XMKD", "RMD", "XRMD", "DELE", "RNFR", "RNTO",
        "SIZE", "MDTM", "RETR", "STOR", "APPE", "REST", "PORT", "EPRT", "SITE",
    ]

    @Test(arguments: needArgument)
    func missingArgumentIs501(verb: String) {
        let expected = FTPReply(.syntaxErrorInArguments, "\(verb) needs an argument.")
        #expect(refusal(verb) == expected)
        // An empty argument ("CWD ") counts as none.
        #expect(refusal(verb + " ") == expected)
        // The message names the verb in upper case whatever the client typed.
        #expect(refusal(verb.lowercased()) == expected)
    }

    @Test(arguments: [
        "REIN", "SMNT /", "MFMT 20200101000000 f", "CLNT x", "XYZ", "A", "FOOO",
        // Verbs of up to 7 letters and digits (the checksum verbs such as XSHA256 are that long) are verbs.
        "NOOPS", "RETRX file", "RET1 file", "XSHA384 f",
    ])
    func unknownVerbIs502(line: String) {
        let verb = line.split(separator: " ")[0]
        #expect(refusal(line) == FTPReply(.notImplemented, "Command \(verb) not implemented."))
        #expect(refusal(line.lowercased()) == FTPReply(.notImplemented, "Command \(verb) not implemented."))
    }

    @Test(arguments: [
        "",
        " ",
        " NOOP",  // a leading space makes the verb empty
        "NOOPSTER",  // longer than any verb
        "1RET file",  // a verb starts with a letter
        "NO-P",
        "1234",
        "CWD\tdir",  // a tab is not the separator, so the verb is "CWD\tdir"
        "NOOP\t",
        "\u{0}",
        "NO\u{0}P",
        "ÄBC",
        "RÉTR x",
        "\u{FFFD}",
        "ＮＯＯＰ",  // full-width letters are not ASCII letters
    ])
    func malformedVerbIs500(line: String) {
        #expect(refusal(line) == FTPReply(.syntaxError, "Syntax error, command unrecognized."))
    }
}

@Suite("FTPCommand.parse: arguments")
struct FTPCommandArgumentTests {
    /// The argument is everything after the first space, verbatim.
    @Test(arguments: [
        ("RETR my file.txt", "my file.txt"),
        ("RETR  leading space.txt", " leading space.txt"),
        ("RETR trailing space ", "trailing space "),
        ("RETR   ", "  "),
        ("STOR résumé 📄.pdf", "résumé 📄.pdf"),
        ("STOR 日本語/ファイル.txt", "日本語/ファイル.txt"),
        ("CWD ../x y", "../x y"),
        ("DELE a\\b", "a\\b"),
        ("RETR \"quoted\"", "\"quoted\""),
        ("RETR a\rb", "a\rb"),
    ])
    func argumentIsVerbatim(line: String, argument: String) throws {
        let command = try FTPCommand.parse(line)
        switch command {
        case .retr(let value), .stor(let value), .cwd(let value), .dele(let value):
            #expect(value.utf8.elementsEqual(argument.utf8))
        default:
            Issue.record("unexpected \(command)")
        }
    }

    @Test func userKeepsSpaces() throws {
        #expect(try FTPCommand.parse("USER  bob") == .user(" bob"))
        #expect(try FTPCommand.parse("USER john smith") == .user("john smith"))
        #expect(try FTPCommand.parse("PASS pass word ") == .pass(.init("pass word ")))
    }

    static let pathVerbs = [
        "CWD", "XCWD", "MKD", "XMKD", "RMD", "XRMD", "DELE", "RNFR", "RNTO", "SIZE", "MDTM", "RETR", "STOR", "APPE",
        "LIST", "NLST", "STAT", "MLSD", "MLST",
    ]

    @Test(arguments: pathVerbs)
    func nulInPathIs501(verb: String) {
        #expect(refusal("\(verb) a\u{0}b") == FTPReply(.syntaxErrorInArguments, "Path contains a NUL byte."))
        #expect(refusal("\(verb) \u{0}") == FTPReply(.syntaxErrorInArguments, "Path contains a NUL byte."))
    }

    @Test(arguments: pathVerbs)
    func pathLengthLimitIs4096Bytes(verb: String) throws {
        #expect(FTPCommand.maximumPathLength == 4096)
        #expect(refusal("\(verb) " + String(repeating: "a", count: 4096)) == nil)
        #expect(
            refusal("\(verb) " + String(repeating: "a", count: 4097))
                == FTPReply(.syntaxErrorInArguments, "Path too long.")
        )
        // The limit counts UTF-8 bytes, not characters: 2048 × "é" is 4096 bytes, 2049 × "é" is 4098.
        #expect(refusal("\(verb) " + String(repeating: "é", count: 2048)) == nil)
        #expect(refusalCode("\(verb) " + String(repeating: "é", count: 2049)) == 501)
    }

    @Test func nonPathArgumentsAreNotPathChecked() throws {
        // USER and SITE are not paths: a NUL or a long value is the next layer's problem.
        #expect(try FTPCommand.parse("USER a\u{0}b") == .user("a\u{0}b"))
        let long = String(repeating: "x", count: 5000)
        #expect(try FTPCommand.parse("SITE " + long) == .site(long))
    }

    /// A file name may start with a combining mark; the separator space must not be glued to it.
    /// (`" \u{301}"` is one Character, so a Character-based split would not find the space.)
    @Test func argumentStartingWithCombiningMark() throws {
        let command = try FTPCommand.parse("RETR \u{301}x.txt")
        guard case .retr(let name) = command else {
            Issue.record("expected .retr, got \(command)")
            return
        }
        #expect(name.unicodeScalars.elementsEqual("\u{301}x.txt".unicodeScalars))
        #expect(try FTPCommand.parse("CWD \u{200D}dir") == .cwd("\u{200D}dir"))
        #expect(try FTPCommand.parse("MKD  \u{301}") == .mkd(" \u{301}"))
    }
}

@Suite("FTPCommand.parse: TYPE, MODE, STRU")
struct FTPCommandTypeTests {
    @Test(arguments: [
        ("A", TransferType.ascii), ("a", .ascii), ("A N", .ascii), ("a n", .ascii), ("A  N", .ascii),
        (" A", .ascii), ("A ", .ascii), ("I", .image), ("i", .image), ("L 8", .image), ("l 8", .image),
    ])
    func acceptedTypes(argument: String, expected: TransferType) throws {
        #expect(try FTPCommand.parse("TYPE " + argument) == .type(expected))
    }

    /// Known but unsupported representation types or format controls: 504.
    @Test(arguments: ["A T", "A C", "A N X", "a t", "E", "e", "E N", "L", "L 7", "L 16", "l 36"])
    func unsupportedTypesAre504(argument: String) {
        #expect(refusalCode("TYPE " + argument) == 504)
    }

    /// Garbage: 501.
    @Test(arguments: ["X", "IMAGE", "ASCII", "AN", "I N", "I 8", "8", "-", "Ä", "binary"])
    func garbageTypesAre501(argument: String) {
        #expect(refusal("TYPE " + argument) == FTPReply(.syntaxErrorInArguments, "Unknown TYPE '\(argument)'."))
    }

    @Test func modeAndStructure() throws {
        #expect(try FTPCommand.parse("MODE S") == .mode(.stream))
        #expect(try FTPCommand.parse("mode s") == .mode(.stream))
        #expect(try FTPCommand.parse("STRU F") == .stru(.file))
        #expect(try FTPCommand.parse("stru f") == .stru(.file))
    }

    @Test(arguments: ["B", "C", "Z", "SS", " S", "S ", "stream"])
    func otherModesAre504(argument: String) {
        #expect(
            refusal("MODE " + argument)
                == FTPReply(.parameterNotImplemented, "Only stream mode (MODE S) is supported.")
        )
    }

    @Test(arguments: ["R", "P", "FF", " F", "file"])
    func otherStructuresAre504(argument: String) {
        #expect(
            refusal("STRU " + argument)
                == FTPReply(.parameterNotImplemented, "Only file structure (STRU F) is supported.")
        )
    }
}

@Suite("FTPCommand.parse: REST and EPSV")
struct FTPCommandRestEPSVTests {
    @Test(arguments: [
        ("0", Int64(0)), ("1", 1), ("007", 7), ("1048576", 1_048_576), ("9223372036854775807", Int64.max),
        ("0000000000000000001", 1),
    ])
    func restOffsets(argument: String, offset: Int64) throws {
        #expect(try FTPCommand.parse("REST " + argument) == .rest(offset))
    }

    @Test(arguments: [
        "-1", "-0", "+5", "1.5", "12a", "abc", "0x10", " 5", "5 ", "1 2", "9223372036854775808",
        "99999999999999999999", "00000000000000000001",  // 20 characters
        "١٢٣",  // Arabic-Indic digits
        "５",  // full-width digit
    ])
    func badRestOffsetsAre501(argument: String) {
        #expect(
            refusal("REST " + argument)
                == FTPReply(.syntaxErrorInArguments, "REST needs a non-negative byte offset.")
        )
    }

    @Test(arguments: [
        ("", EPSVArgument.any), (" ", .any), (" ALL", .all), (" all", .all), (" All", .all),
        (" 1", .networkProtocol(1)),
        (" 2", .networkProtocol(2)),
        // The parser accepts any positive protocol number; the session answers 522 for those it cannot serve.
        (" 3", .networkProtocol(3)),
    ])
    func epsvArguments(suffix: String, expected: EPSVArgument) throws {
        #expect(try FTPCommand.parse("EPSV" + suffix) == .epsv(expected))
    }

    @Test(arguments: ["0", "-1", "abc", "ALL2", "ALLL", "1 2", " 1", "1.0", "99999999999999999999999"])
    func badEPSVArgumentsAre501(argument: String) {
        #expect(
            refusal("EPSV " + argument)
                == FTPReply(.syntaxErrorInArguments, "EPSV takes ALL or a network protocol number.")
        )
    }
}

@Suite("FTPCommand.parse: LIST/NLST/STAT option words")
struct FTPCommandListingArgumentTests {
    @Test(arguments: [
        ("", nil as String?),
        (" -la", nil),
        (" -l", nil),
        (" -a", nil),
        (" -l -a", nil),
        (" -la ", nil),
        (" -R /pub", "/pub"),
        (" -a dir", "dir"),
        (" -l -a dir", "dir"),
        (" -la   my dir", "my dir"),
        (" -la my dir ", "my dir "),
        (" dir", "dir"),
        (" dir -la", "dir -la"),
        (" -my-file.txt", "-my-file.txt"),  // not an option word: it has a non-letter
        (" -la -my-file.txt", "-my-file.txt"),
        (" -", "-"),
        (" --", "--"),
        (" --help", "--help"),
        (" -l-a", "-l-a"),
        (" -1", "-1"),  // `ls -1` is not recognised as an option: digits make it a name
        (" -a.txt", "-a.txt"),
        ("  dir", " dir"),  // no option word: the argument is verbatim
    ])
    func optionWordsAreDropped(suffix: String, path: String?) throws {
        #expect(try FTPCommand.parse("LIST" + suffix) == .list(path))
        #expect(try FTPCommand.parse("NLST" + suffix) == .nlst(path))
        #expect(try FTPCommand.parse("STAT" + suffix) == .stat(path))
    }

    @Test func optionsAreNotStrippedForMachineListings() throws {
        #expect(try FTPCommand.parse("MLSD -la") == .mlsd("-la"))
        #expect(try FTPCommand.parse("MLST -la") == .mlst("-la"))
    }

    @Test func pathAfterOptionsIsValidated() {
        #expect(refusal("LIST -la a\u{0}b") == FTPReply(.syntaxErrorInArguments, "Path contains a NUL byte."))
        #expect(refusalCode("NLST -l " + String(repeating: "a", count: 4097)) == 501)
        // The option words do not count toward the limit.
        #expect(refusal("NLST -l " + String(repeating: "a", count: 4096)) == nil)
    }

    /// The same Character-vs-scalar trap as the verb split: `" \u{301}"` is one Character, so the option word
    /// never ends and `-la` is kept as part of the path.
    @Test func optionWordFollowedByNameStartingWithCombiningMark() throws {
        let command = try FTPCommand.parse("LIST -la \u{301}x")
        guard case .list(let path?) = command else {
            Issue.record("expected .list(path), got \(command)")
            return
        }
        #expect(path.unicodeScalars.elementsEqual("\u{301}x".unicodeScalars), "\(path.debugDescription)")
    }
}

@Suite("FTPCommand: password redaction")
struct FTPCommandPasswordTests {
    @Test func passwordValueIsKept() throws {
        let command = try FTPCommand.parse("PASS hunter2")
        guard case .pass(let password) = command else {
            Issue.record("expected .pass, got \(command)")
            return
        }
        #expect(password.value == "hunter2")
        #expect(password == FTPCommand.Password("hunter2"))
        #expect(password != FTPCommand.Password("hunter3"))
    }

    @Test func passwordNeverAppearsInText() throws {
        let command = try FTPCommand.parse("PASS hunter2")
        let password = FTPCommand.Password("hunter2")
        let renderings = [
            String(describing: command),
            String(reflecting: command),
            "\(command)",
            "\([command])",
            "\(Optional(command) as Any)",
            String(describing: password),
            String(reflecting: password),
            "\(password)",
            password.description,
            password.debugDescription,
        ]
        for text in renderings {
            #expect(!text.contains("hunter2"), "leaked in \(text)")
        }
        #expect(String(describing: password) == "******")
        #expect(String(describing: command).contains("******"))
        #expect(command.verb == "PASS")
    }

    @Test func passwordIsNotRevealedByReflection() {
        var dumped = ""
        dump(FTPCommand.pass(.init("hunter2")), to: &dumped)
        #expect(!dumped.contains("hunter2"))
        #expect(Mirror(reflecting: FTPCommand.Password("hunter2")).children.isEmpty)
    }
}

@Suite("FTPCommand: login and transfer-control tables")
struct FTPCommandTableTests {
    struct Row: Sendable, CustomTestStringConvertible {
        var command: FTPCommand
        var beforeLogin: Bool
        var transferControl: Bool
        var testDescription: String { String(describing: self.command) }
    }

    static let rows: [Row] = [
        Row(command: .user("u"), beforeLogin: true, transferControl: false),
        Row(command: .pass(.init("p")), beforeLogin: true, transferControl: false),
        Row(command: .acct, beforeLogin: true, transferControl: false),
        Row(command: .quit, beforeLogin: true, transferControl: true),
        Row(command: .noop, beforeLogin: true, transferControl: true),
        Row(command: .syst, beforeLogin: true, transferControl: false),
        Row(command: .feat, beforeLogin: true, transferControl: false),
        Row(command: .opts("UTF8 ON"), beforeLogin: true, transferControl: false),
        Row(command: .help(nil), beforeLogin: true, transferControl: false),
        Row(command: .help("SITE"), beforeLogin: true, transferControl: false),
        Row(command: .type(.image), beforeLogin: false, transferControl: false),
        Row(command: .mode(.stream), beforeLogin: false, transferControl: false),
        Row(command: .stru(.file), beforeLogin: false, transferControl: false),
        Row(command: .stat(nil), beforeLogin: false, transferControl: true),
        Row(command: .stat("/pub"), beforeLogin: false, transferControl: false),
        Row(command: .pwd, beforeLogin: false, transferControl: false),
        Row(command: .cwd("d"), beforeLogin: false, transferControl: false),
        Row(command: .cdup, beforeLogin: false, transferControl: false),
        Row(command: .mkd("d"), beforeLogin: false, transferControl: false),
        Row(command: .rmd("d"), beforeLogin: false, transferControl: false),
        Row(command: .dele("f"), beforeLogin: false, transferControl: false),
        Row(command: .rnfr("f"), beforeLogin: false, transferControl: false),
        Row(command: .rnto("f"), beforeLogin: false, transferControl: false),
        Row(command: .list(nil), beforeLogin: false, transferControl: false),
        Row(command: .nlst(nil), beforeLogin: false, transferControl: false),
        Row(command: .mlsd(nil), beforeLogin: false, transferControl: false),
        Row(command: .mlst(nil), beforeLogin: false, transferControl: false),
        Row(command: .size("f"), beforeLogin: false, transferControl: false),
        Row(command: .mdtm("f"), beforeLogin: false, transferControl: false),
        Row(command: .retr("f"), beforeLogin: false, transferControl: false),
        Row(command: .stor("f"), beforeLogin: false, transferControl: false),
        Row(command: .appe("f"), beforeLogin: false, transferControl: false),
        Row(command: .rest(5), beforeLogin: false, transferControl: false),
        Row(command: .abor, beforeLogin: false, transferControl: true),
        Row(command: .pasv, beforeLogin: false, transferControl: false),
        Row(command: .epsv(.any), beforeLogin: false, transferControl: false),
        Row(command: .epsv(.all), beforeLogin: false, transferControl: false),
        Row(
            command: .port(HostPort(family: .ipv4, host: "1.2.3.4", port: 2000)),
            beforeLogin: false,
            transferControl: false
        ),
        Row(
            command: .eprt(HostPort(family: .ipv6, host: "::1", port: 2000)),
            beforeLogin: false,
            transferControl: false
        ),
        Row(command: .allo(nil), beforeLogin: false, transferControl: false),
        Row(command: .site("HELP"), beforeLogin: false, transferControl: false),
    ]

    @Test(arguments: rows)
    func allowedBeforeLogin(row: Row) {
        #expect(row.command.allowedBeforeLogin == row.beforeLogin)
    }

    @Test(arguments: rows)
    func isTransferControl(row: Row) {
        #expect(row.command.isTransferControl == row.transferControl)
    }

    @Test func tableCoversEveryVerb() {
        let verbs = Set(Self.rows.map(\.command.verb))
        #expect(verbs.count == 38)
    }

    /// `STAT -la` while a transfer runs is still the transfer-status form: the option words are dropped.
    @Test func statWithOnlyOptionsIsTransferControl() throws {
        #expect(try FTPCommand.parse("STAT -la").isTransferControl)
        #expect(try !FTPCommand.parse("STAT /pub").isTransferControl)
    }
}

@Suite("FTPCommand.parse: FTPS (RFC 2228, RFC 4217)")
struct FTPSCommandParseTests {
    @Test func tlsCommandsParse() throws {
        #expect(try FTPCommand.parse("AUTH TLS") == .auth("TLS"))
        #expect(try FTPCommand.parse("auth ssl") == .auth("ssl"))
        #expect(try FTPCommand.parse("PBSZ 0") == .pbsz("0"))
        #expect(try FTPCommand.parse("PROT P") == .prot("P"))
        #expect(try FTPCommand.parse("CCC") == .ccc)
        for verb in ["AUTH", "PBSZ", "PROT"] {
            #expect(throws: FTPCommandParseError.self) { try FTPCommand.parse(verb) }
        }
    }

    @Test func tlsCommandsAreAllowedBeforeLogin() throws {
        for line in ["AUTH TLS", "PBSZ 0", "PROT P", "CCC"] {
            #expect(try FTPCommand.parse(line).allowedBeforeLogin, "\(line)")
        }
    }
}
