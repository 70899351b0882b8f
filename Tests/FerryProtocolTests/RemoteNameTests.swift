import Testing

@testable import FerryProtocol

/// A name as a test argument, shown escaped: a raw NUL or escape sequence in the test log would garble it.
struct Name: CustomTestStringConvertible, Sendable, ExpressibleByStringLiteral {
    var text: String
    init(_ text: String) { self.text = text }
    init(stringLiteral text: String) { self.text = text }
    var testDescription: String { RemoteName.escaped(self.text) }
}

@Suite("RemoteName")
struct RemoteNameTests {
    @Test(
        "names a hostile server might list are refused, each for its reason",
        arguments: [
            (Name(""), RemoteNameProblem.empty),
            (".", .dotOrDotDot),
            ("..", .dotOrDotDot),
            ("../../escape", .containsSlash),
            ("/abs/path", .containsSlash),
            ("/", .containsSlash),
            ("a/b", .containsSlash),
            ("a/", .containsSlash),
            // A combining mark after the slash makes one Character that is not "/"; the kernel still splits there.
            ("a/\u{301}b", .containsSlash),
            ("..\0x", .containsNUL),
            ("a\0", .containsNUL),
            ("\0", .containsNUL),
            (Name(String(repeating: "x", count: 256)), .tooLong(bytes: 256)),
            // 128 two-byte characters: 256 bytes.
            (Name(String(repeating: "é", count: 128)), .tooLong(bytes: 256)),
            (".report.pdf.ferry-part", .partFileName),
            ("..ferry-part", .partFileName),
        ]
    )
    func refused(name: Name, problem: RemoteNameProblem) {
        #expect(RemoteName.problem(with: name.text) == problem, "\(name.testDescription)")
    }

    @Test(
        "ordinary and merely unusual names are accepted",
        arguments: [
            "report.pdf", ".hidden", "...", ".. ", " ..", "a b", "a\\b", "\\", "-rf", "ünïcødé", "..\u{301}",
            "report.pdf.ferry-part", ".ferry-part", "x.ferry-part", Name(String(repeating: "x", count: 255)),
        ] as [Name]
    )
    func accepted(name: Name) {
        #expect(RemoteName.problem(with: name.text) == nil, "\(name.testDescription)")
    }

    @Test("the part name is the one the client writes to, and is itself refused as an entry name")
    func partName() {
        #expect(RemoteName.partName(for: "a.bin") == ".a.bin.ferry-part")
        #expect(RemoteName.problem(with: RemoteName.partName(for: "a.bin")) == .partFileName)
        #expect(RemoteName.problem(with: RemoteName.partName(for: ".hidden")) == .partFileName)
    }

    @Test("escaped names are printable: controls, NUL, escapes and bidi overrides are spelled out")
    func escaped() {
        #expect(RemoteName.escaped("../../escape") == "\"../../escape\"")
        #expect(RemoteName.escaped("") == "\"\"")
        #expect(RemoteName.escaped("a\0b") == "\"a\\0b\"")
        #expect(RemoteName.escaped("\u{1B}[2Jx") == "\"\\u{1B}[2Jx\"")
        #expect(RemoteName.escaped("a\u{202E}txt.exe") == "\"a\\u{202E}txt.exe\"")
        #expect(RemoteName.escaped("say \"hi\"\\") == "\"say \\\"hi\\\"\\\\\"")
        #expect(RemoteName.escaped("tab\there\r\n") == "\"tab\\there\\r\\n\"")
        #expect(RemoteName.escaped("ünïcødé") == "\"ünïcødé\"")
    }
}
