import FerryCLI
import Foundation
import Testing

private func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: base) }
    return try body(base.path)
}

@Suite("NetRC")
struct NetRCTests {
    @Test("machines, default, one line or many, first match wins, hosts case-insensitive")
    func basic() {
        let netrc = NetRC.parse(
            """
            machine ftp.example.com login alice password s3cret
            machine other.example.com
                login bob
                password "pass word"
                account acct1
            machine FTP.example.com login second password shadowed
            default login anonymous password guest@
            """
        )
        #expect(netrc.entries.count == 4)
        #expect(netrc.credentials(host: "ftp.example.com") == ("alice", "s3cret"))
        #expect(netrc.credentials(host: "FTP.EXAMPLE.COM") == ("alice", "s3cret"))
        #expect(netrc.credentials(host: "other.example.com") == ("bob", "pass word"))
        #expect(netrc.entry(host: "other.example.com")?.account == "acct1")
        #expect(netrc.credentials(host: "unknown.example.com") == ("anonymous", "guest@"))
        #expect(netrc.containsPassword)
    }

    @Test("a login given on the command line selects the entry for it")
    func withLogin() {
        let netrc = NetRC.parse(
            """
            machine h login alice password a
            machine h login bob password b
            """
        )
        #expect(netrc.credentials(host: "h", login: "bob") == ("bob", "b"))
        #expect(netrc.credentials(host: "h", login: "carol") == ("carol", nil))
        #expect(netrc.credentials(host: "h") == ("alice", "a"))
        #expect(netrc.credentials(host: "x") == (nil, nil))
    }

    @Test("macdef bodies are skipped up to the empty line; comments; quoted escapes")
    func macrosCommentsQuotes() {
        let netrc = NetRC.parse(
            """
            # my hosts
            machine a login u1 password p1 # trailing comment
            macdef init
            cd /pub
            machine fake login evil password evil
            binary

            machine b login "u 2" password "q\\"uote\\\\d\\ttab"
            machine c login u3 password #notacomment
            """
        )
        #expect(netrc.entries.map(\.machine) == ["a", "b", "c"])
        #expect(netrc.credentials(host: "a") == ("u1", "p1"))
        #expect(netrc.credentials(host: "b") == ("u 2", "q\"uote\\d\ttab"))
        #expect(netrc.credentials(host: "c") == ("u3", "#notacomment"))
        #expect(netrc.credentials(host: "fake") == (nil, nil))
    }

    @Test("CRLF files, a macro at the end, keywords before any machine, empty input")
    func edges() {
        let crlf = NetRC.parse("machine a\r\nlogin u\r\npassword p\r\nmacdef m\r\nx\r\n\r\nmachine b login v\r\n")
        #expect(crlf.credentials(host: "a") == ("u", "p"))
        #expect(crlf.credentials(host: "b") == ("v", nil))
        #expect(NetRC.parse("login orphan password p machine a").credentials(host: "a") == (nil, nil))
        #expect(NetRC.parse("machine a macdef m\nbody without end").entries.count == 1)
        #expect(NetRC.parse("").entries.isEmpty)
        #expect(NetRC.parse("machine").entries.count == 1)
        #expect(!NetRC.parse("machine a login u").containsPassword)
    }

    @Test("a file with a password that others can read is refused with a reason")
    func permissions() throws {
        try withTemporaryDirectory { base in
            let path = base + "/netrc"
            try "machine h login u password p\n".write(toFile: path, atomically: false, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
            let refused = NetRC.load(path: path)
            #expect(refused.netrc == nil)
            let reason = try #require(refused.problem)
            #expect(reason.contains(path))
            #expect(reason.contains("644"))
            #expect(reason.contains("chmod 600"))

            try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: path)
            #expect(NetRC.load(path: path).netrc == nil)

            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
            let loaded = NetRC.load(path: path)
            #expect(loaded.problem == nil)
            #expect(try #require(loaded.netrc).credentials(host: "h") == ("u", "p"))

            // Without a password, a readable file is fine.
            try "machine h login u\n".write(toFile: path, atomically: false, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
            #expect(try #require(NetRC.load(path: path).netrc).credentials(host: "h") == ("u", nil))
        }
    }

    @Test("missing and unreadable files")
    func missing() throws {
        try withTemporaryDirectory { base in
            let missing = NetRC.load(path: base + "/none")
            #expect(missing.netrc == nil)
            #expect(missing.problem == nil)
            if case .missing = missing {} else { Issue.record("expected .missing, got \(missing)") }
            let directory = NetRC.load(path: base)
            #expect(directory.netrc == nil)
            #expect(directory.problem?.contains("not a regular file") == true)
        }
    }

    @Test("the default path: $NETRC, else ~/.netrc")
    func defaultPath() {
        #expect(NetRC.defaultPath(environment: ["NETRC": "/etc/n", "HOME": "/home/u"]) == "/etc/n")
        #expect(NetRC.defaultPath(environment: ["HOME": "/home/u"]) == "/home/u/.netrc")
        #expect(NetRC.defaultPath(environment: ["HOME": "/home/u/"]) == "/home/u/.netrc")
        #expect(NetRC.defaultPath(environment: [:]).hasSuffix("/.netrc"))
    }
}
