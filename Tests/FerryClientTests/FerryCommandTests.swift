import FerryTestSupport
import Foundation
import Testing

/// The `ferry` executable end to end against an in-process ferryd.
@Suite("ferry command line")
struct FerryCommandTests {
    static let ferry = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("ferry").path

    /// A scratch HOME (known_hosts, netrc) and working directory for one test.
    struct Scratch {
        let directory: String
        var home: String { self.directory + "/home" }

        init() throws {
            self.directory =
                FileManager.default.temporaryDirectory.appendingPathComponent("ferry-cli-\(UUID().uuidString)")
                .path
            try FileManager.default.createDirectory(atPath: self.directory + "/home", withIntermediateDirectories: true)
        }

        func remove() { try? FileManager.default.removeItem(atPath: self.directory) }
    }

    func ferry(
        _ arguments: [String],
        _ scratch: Scratch,
        password: String? = "alice-secret",
        stdin: String? = nil
    ) async throws -> ProcessResult {
        var environment = ["HOME": scratch.home, "XDG_CONFIG_HOME": scratch.home + "/.config"]
        if let password { environment["FERRY_PASSWORD"] = password }
        return try await runProcess(
            Self.ferry,
            arguments,
            stdin: stdin.map { Data($0.utf8) },
            environment: environment,
            timeout: .seconds(120)
        )
    }

    @Test("put, ls, get, mkdir, mv, rm, rmdir, quota, with verification and exit codes")
    func oneShotCommands() async throws {
        try await withServer { server in
            let scratch = try Scratch()
            defer { scratch.remove() }
            let base = "ftp://alice@127.0.0.1:\(server.port)"
            let trust = ["--cacert", server.dataDirectory + "/tls/cert.pem"]
            let payload = Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
            try payload.write(to: URL(fileURLWithPath: scratch.directory + "/a.bin"))

            let put = try await self.ferry(["put", scratch.directory + "/a.bin", base + "/"] + trust, scratch)
            #expect(put.status == 0, "\(put.stderr)")
            #expect(put.stderr.contains("sha256 verified, checked by the server before commit"), "\(put.stderr)")
            #expect(!put.stderr.contains("\u{1B}"), "escape codes when stderr is not a terminal")
            #expect(try Data(contentsOf: URL(fileURLWithPath: server.home("alice") + "/a.bin")) == payload)

            #expect(try await self.ferry(["mkdir", base + "/dir"] + trust, scratch).status == 0)
            #expect(try await self.ferry(["mv", base + "/a.bin", "/dir/b.bin"] + trust, scratch).status == 0)
            let ls = try await self.ferry(["ls", base + "/dir"] + trust, scratch)
            #expect(ls.stdout == "b.bin\n", "\(ls.stdout)\(ls.stderr)")
            let long = try await self.ferry(["ls", "-l", base + "/"] + trust, scratch)
            #expect(long.stdout.hasPrefix("d ") && long.stdout.hasSuffix(" dir\n"), "\(long.stdout)")

            let get = try await self.ferry(
                ["get", base + "/dir/b.bin", "-o", scratch.directory + "/c.bin"] + trust,
                scratch
            )
            #expect(get.status == 0, "\(get.stderr)")
            #expect(get.stderr.contains("sha256 verified"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.directory + "/c.bin")) == payload)

            let quota = try await self.ferry(["quota", base + "/"] + trust, scratch)
            #expect(quota.stdout.contains("Bytes: 2.9 MiB (3000000 bytes) used"), "\(quota.stdout)")

            #expect(try await self.ferry(["rm", base + "/dir/b.bin"] + trust, scratch).status == 0)
            #expect(try await self.ferry(["rmdir", base + "/dir"] + trust, scratch).status == 0)

            // Distinct exit codes: remote error, authentication, usage, connection.
            let missing = try await self.ferry(["get", base + "/missing.bin"] + trust, scratch)
            #expect(missing.status == 68 && missing.stderr.contains("550"), "\(missing.status) \(missing.stderr)")
            let wrong = try await self.ferry(["ls", base + "/"] + trust, scratch, password: "nope")
            #expect(wrong.status == 67, "\(wrong.status) \(wrong.stderr)")
            let usage = try await self.ferry(["get", "http://example.invalid/x"], scratch)
            #expect(usage.status == 64, "\(usage.status) \(usage.stderr)")
            let refused = try await self.ferry(["ls", "ftp://alice@127.0.0.1:1/"] + trust, scratch)
            #expect(refused.status == 65, "\(refused.status) \(refused.stderr)")
        }
    }

    @Test("trust on first use: refused without a decision, remembered with --accept-fingerprint, a change refused")
    func trustOnFirstUse() async throws {
        try await withServer { server in
            let scratch = try Scratch()
            defer { scratch.remove() }
            let url = "ftp://alice@127.0.0.1:\(server.port)/"
            let fingerprint = try #require(server.fingerprint)
            let unknown = try await self.ferry(["ls", url], scratch)
            #expect(unknown.status == 66 && unknown.stderr.contains(fingerprint), "\(unknown.stderr)")
            let accepted = try await self.ferry(["ls", url, "--accept-fingerprint", fingerprint], scratch)
            #expect(accepted.status == 0, "\(accepted.stderr)")
            let knownHosts = try String(contentsOfFile: scratch.home + "/.config/ferry/known_hosts", encoding: .utf8)
            #expect(knownHosts.contains("127.0.0.1:\(server.port) \(fingerprint)"))
            #expect(try await self.ferry(["ls", url], scratch).status == 0)
            // Another certificate for the same host and port: refused with a warning.
            let other = String(repeating: "AB:", count: 31) + "AB"
            try knownHosts.replacingOccurrences(of: fingerprint, with: other)
                .write(toFile: scratch.home + "/.config/ferry/known_hosts", atomically: true, encoding: .utf8)
            let changed = try await self.ferry(["ls", url], scratch)
            #expect(changed.status == 66 && changed.stderr.contains("CHANGED"), "\(changed.stderr)")
            #expect(try await self.ferry(["ls", url, "--insecure"], scratch).status == 0)
        }
    }

    @Test("mirror a tree down and back up with parallel transfers; unchanged files are skipped")
    func mirror() async throws {
        try await withServer { server in
            let scratch = try Scratch()
            defer { scratch.remove() }
            let trust = ["--cacert", server.dataDirectory + "/tls/cert.pem", "-j", "3"]
            let home = server.home("alice")
            for (index, path) in ["a.txt", "x/b.bin", "x/y/c.bin", "x/y/d e.txt", "z/e.bin"].enumerated() {
                let url = URL(fileURLWithPath: home + "/tree/" + path)
                try FileManager.default.createDirectory(
                    at: url.deletingLastPathComponent(),
                    withIntermediateDirectories: true
                )
                try Data(repeating: UInt8(index), count: index * 100_000 + 1).write(to: url)
            }
            let url = "ftp://alice@127.0.0.1:\(server.port)/tree"
            let down = try await self.ferry(["mirror", url, scratch.directory + "/copy"] + trust, scratch)
            #expect(down.status == 0, "\(down.stderr)")
            #expect(down.stderr.contains("mirror: 5 file(s)"), "\(down.stderr)")
            for path in ["a.txt", "x/b.bin", "x/y/c.bin", "x/y/d e.txt", "z/e.bin"] {
                #expect(
                    FileManager.default.contentsEqual(
                        atPath: home + "/tree/" + path,
                        andPath: scratch.directory + "/copy/" + path
                    ),
                    "\(path)"
                )
            }
            let again = try await self.ferry(["mirror", url, scratch.directory + "/copy"] + trust, scratch)
            #expect(again.stderr.contains("mirror: 0 file(s)"), "\(again.stderr)")
            // Back up under another name.
            try Data("new".utf8).write(to: URL(fileURLWithPath: scratch.directory + "/copy/x/new.txt"))
            let up = try await self.ferry(
                ["mirror", "--reverse", scratch.directory + "/copy", "ftp://alice@127.0.0.1:\(server.port)/back"]
                    + trust,
                scratch
            )
            #expect(up.status == 0, "\(up.stderr)")
            #expect(up.stderr.contains("mirror: 6 file(s)"), "\(up.stderr)")
            #expect(
                FileManager.default.contentsEqual(
                    atPath: home + "/back/x/y/d e.txt",
                    andPath: home + "/tree/x/y/d e.txt"
                )
            )
            #expect(try String(contentsOfFile: home + "/back/x/new.txt", encoding: .utf8) == "new")
        }
    }

    @Test("the shell, driven through standard input")
    func shell() async throws {
        try await withServer { server in
            let scratch = try Scratch()
            defer { scratch.remove() }
            try Data("hello shell\n".utf8).write(to: URL(fileURLWithPath: scratch.directory + "/h.txt"))
            let script = """
                lcd \(scratch.directory)
                mkdir "my dir"
                cd "my dir"
                put \(scratch.directory)/h.txt
                pwd
                ls
                get h.txt \(scratch.directory)/h2.txt
                mget *.txt
                nonsense
                bye
                """
            let result = try await self.ferry(
                ["ftp://alice@127.0.0.1:\(server.port)/", "--cacert", server.dataDirectory + "/tls/cert.pem"],
                scratch,
                stdin: script
            )
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("/my dir"))
            #expect(result.stdout.contains("h.txt"))
            #expect(result.stderr.contains("unknown command 'nonsense'"))
            #expect(try String(contentsOfFile: scratch.directory + "/h2.txt", encoding: .utf8) == "hello shell\n")
            #expect(
                try String(contentsOfFile: server.home("alice") + "/my dir/h.txt", encoding: .utf8) == "hello shell\n"
            )
        }
    }

    @Test(
        "the shell on a real terminal shows a progress bar (script(1) gives ferry a pseudo-terminal)",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"))
    )
    func progressBarOnATerminal() async throws {
        try await withServer { server in
            let scratch = try Scratch()
            defer { scratch.remove() }
            try Data(count: 40 << 20).write(to: URL(fileURLWithPath: server.home("alice") + "/big.bin"))
            // The interactive shell on a pseudo-terminal: it prompts, and `get` shows a live progress bar.
            let command = [
                Self.ferry, "ftp://alice@127.0.0.1:\(server.port)/", "--cacert", server.dataDirectory + "/tls/cert.pem",
            ].map { "'\($0)'" }.joined(separator: " ")
            let result = try await runProcess(
                "script",
                ["-qec", "stty cols 100; cd '\(scratch.directory)'; " + command, "/dev/null"],
                stdin: Data("get big.bin\nbye\n".utf8),
                environment: ["HOME": scratch.home, "FERRY_PASSWORD": "alice-secret", "TERM": "xterm"]
            )
            #expect(result.stdout.contains("ferry> "), "\(result.stdout)")
            #expect(FileManager.default.fileExists(atPath: scratch.directory + "/big.bin"))
            #expect(result.status == 0, "\(result.stdout)")
            // Redrawn in place: carriage returns and erase-to-end-of-line, a bar, percent, then the final line.
            #expect(result.stdout.contains("\r"))
            #expect(result.stdout.contains("\u{1B}[K"))
            #expect(
                result.stdout.contains("% [") && result.stdout.contains("/40.0 MiB") && result.stdout.contains("ETA")
            )
            #expect(result.stdout.contains("sha256 verified"))
        }
    }
}
