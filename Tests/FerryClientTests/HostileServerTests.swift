import FerryTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `ferry` against a hostile server (`Servers/hostile_ftp_server.py`) whose listings name `../../escape`,
/// `/abs/path`, `a/b`, `..`, `.`, an empty name, NUL bytes, a part-file look-alike and an over-long name: nothing may
/// be written outside the folder `ferry` was told to write to.
@Suite("ferry against a hostile server")
struct HostileServerTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Servers/hostile_ftp_server.py").path

    struct ServerDidNotStart: Error {}

    /// The Python server, listening on 127.0.0.1 at a port of its choosing. It detaches from the process started
    /// here (see the script), which exits at once; the server itself is stopped by its pid, or when the pipe to
    /// its standard input closes.
    struct HostileServer {
        let input: FileHandle
        let port: Int
        let pid: pid_t
        /// Every command the server received, one a line.
        let log: String

        init(listing: String, scenario: String, directory: String) async throws {
            let portFile = directory + "/port"
            self.log = directory + "/commands.log"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [
                "python3", "-u", HostileServerTests.script, "--listing", listing, "--scenario", scenario,
                "--port-file", portFile, "--log", self.log,
            ]
            let input = Pipe()
            self.input = input.fileHandleForWriting
            process.standardInput = input
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let deadline = ContinuousClock.now + .seconds(30)
            while true {
                if let text = try? String(contentsOfFile: portFile, encoding: .utf8) {
                    let words = text.split(separator: " ")
                    if words.count == 2, let port = Int(words[0]), let pid = pid_t(words[1]) {
                        self.port = port
                        self.pid = pid
                        return
                    }
                }
                guard ContinuousClock.now < deadline else {
                    try? self.input.close()
                    throw ServerDidNotStart()
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }

        func stop() {
            try? self.input.close()
            kill(self.pid, SIGKILL)
        }

        var commands: [String] {
            ((try? String(contentsOfFile: self.log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
    }

    /// A scratch folder laid out as `scratch/outer/inner/target`, so that `../../x` from the target still lands
    /// inside the scratch folder, where the test can see it.
    struct Layout {
        let scratch: String
        var target: String { self.scratch + "/outer/inner/target" }
        var server: String { self.scratch + "/server" }
        var home: String { self.scratch + "/home" }

        init() throws {
            self.scratch =
                FileManager.default.temporaryDirectory
                .appendingPathComponent("ferry-hostile-\(UUID().uuidString)").path
            for directory in [self.server, self.home, self.scratch + "/outer/inner"] {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
        }

        func remove() { try? FileManager.default.removeItem(atPath: self.scratch) }

        /// Every path below the scratch folder (links not followed), but for the server's and ferry's own files.
        func snapshot() -> Set<String> {
            var paths: Set<String> = []
            var pending = [""]
            while let relative = pending.popLast() {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: self.scratch + "/" + relative)) ?? []
                for name in names {
                    let path = relative.isEmpty ? name : relative + "/" + name
                    if path == "server" || path == "home" { continue }
                    paths.insert(path)
                    var info = stat()
                    if lstat(self.scratch + "/" + path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
                        pending.append(path)
                    }
                }
            }
            return paths
        }
    }

    /// What the server sends for a file: derived from its last name.
    static func content(_ name: String) -> Data {
        Data(String(repeating: "content of \(name)\n", count: 3).utf8)
    }

    func ferry(_ arguments: [String], _ layout: Layout, stdin: String? = nil) async throws -> ProcessResult {
        try await runProcess(
            FerryCommandTests.ferry,
            arguments,
            stdin: stdin.map { Data($0.utf8) },
            environment: ["HOME": layout.home, "XDG_CONFIG_HOME": layout.home + "/.config", "FERRY_PASSWORD": "x"],
            timeout: .seconds(120)
        )
    }

    @Test(
        "mirror refuses hostile names, writes nothing outside the target, fetches the rest, exits 69",
        arguments: ["mlsd", "list"]
    )
    func mirrorRefusesHostileNames(listing: String) async throws {
        let layout = try Layout()
        defer { layout.remove() }
        let server = try await HostileServer(listing: listing, scenario: "hostile", directory: layout.server)
        defer { server.stop() }
        let before = layout.snapshot()

        let result = try await self.ferry(
            ["mirror", "--plain", "-j", "2", "ftp://anyone@127.0.0.1:\(server.port)/tree", layout.target],
            layout
        )

        // The only new paths are the target, its parents, and the safe entries inside it.
        let created = layout.snapshot().subtracting(before)
        let expected: Set<String> = [
            "outer/inner/target", "outer/inner/target/good.txt", "outer/inner/target/back\\slash",
            "outer/inner/target/sub", "outer/inner/target/sub/nested.txt",
        ]
        #expect(created == expected, "\(created.subtracting(expected).sorted())\n\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "/abs/path"))
        #expect(!FileManager.default.fileExists(atPath: "/absdir"))
        // The safe files arrive intact (a backslash is an ordinary byte in a Linux name).
        #expect(FileManager.default.contents(atPath: layout.target + "/good.txt") == Self.content("good.txt"))
        #expect(FileManager.default.contents(atPath: layout.target + "/sub/nested.txt") == Self.content("nested.txt"))
        #expect(FileManager.default.contents(atPath: layout.target + "/back\\slash") == Self.content("back\\slash"))

        // Each refused entry is named, escaped and printable, with the reason.
        for (name, reason) in [
            ("\"../../escape\"", "contains '/'"), ("\"/abs/path\"", "contains '/'"), ("\"a/b\"", "contains '/'"),
            ("\"nul\\0name\"", "NUL"), ("\"..\\0hidden\"", "NUL"), ("\".good.txt.ferry-part\"", ".ferry-part"),
            ("\"" + String(repeating: "L", count: 300) + "\"", "300 bytes"), ("\"../../escdir\"", "contains '/'"),
            ("\"/absdir\"", "contains '/'"), ("\"../../../escape2\"", "contains '/'"),
            ("\"../../../escdir2\"", "contains '/'"),
        ] {
            let line = result.stderr.split(separator: "\n").first { $0.contains("refusing the entry \(name) ") }
            #expect(line?.contains(reason) == true, "\(name): \(result.stderr)")
        }
        #expect(!result.stderr.contains("\0"), "a raw NUL on stderr")
        #expect(result.stderr.contains("listed name(s) refused"), "\(result.stderr)")
        #expect(result.status == 69, "\(result.status) \(result.stderr)")

        // Refused names are never asked for either: no RETR of them, no listing of the refused folders.
        let commands = server.commands
        let asked = commands.filter {
            ($0.hasPrefix("RETR ") || $0.hasPrefix("LIST ") || $0.hasPrefix("MLSD ") || $0.hasPrefix("SIZE "))
                && ($0.contains("..") || $0.contains("//") || $0.contains("escape") || $0.contains("escdir")
                    || $0.contains("ferry-part") || $0.contains("\0") || $0.contains("\\x00"))
        }
        #expect(asked.isEmpty, "\(asked)")
        #expect(commands.contains("RETR /tree/good.txt"), "\(commands)")
    }

    @Test(
        "mirror writes through no symbolic link in the target: a linked folder is skipped (70), a linked part replaced",
        arguments: ["mlsd", "list"]
    )
    func mirrorDoesNotFollowLinksInTheTarget(listing: String) async throws {
        let layout = try Layout()
        defer { layout.remove() }
        let server = try await HostileServer(listing: listing, scenario: "symlink", directory: layout.server)
        defer { server.stop() }
        let outside = layout.scratch + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try Data("victim\n".utf8).write(to: URL(fileURLWithPath: outside + "/victim.txt"))
        try FileManager.default.createDirectory(atPath: layout.target, withIntermediateDirectories: true)
        // The server lists a folder `linked`: here it is a link out of the target.
        try FileManager.default.createSymbolicLink(atPath: layout.target + "/linked", withDestinationPath: outside)
        // And a link planted where the download of good.txt puts its temporary part file.
        try FileManager.default.createSymbolicLink(
            atPath: layout.target + "/.good.txt.ferry-part",
            withDestinationPath: outside + "/victim.txt"
        )

        let result = try await self.ferry(
            ["mirror", "--plain", "ftp://anyone@127.0.0.1:\(server.port)/tree", layout.target],
            layout
        )

        #expect(
            try FileManager.default.contentsOfDirectory(atPath: outside) == ["victim.txt"],
            "\(result.stderr)"
        )
        #expect(FileManager.default.contents(atPath: outside + "/victim.txt") == Data("victim\n".utf8))
        var info = stat()
        #expect(lstat(layout.target + "/good.txt", &info) == 0 && info.st_mode & S_IFMT == S_IFREG)
        #expect(FileManager.default.contents(atPath: layout.target + "/good.txt") == Self.content("good.txt"))
        #expect(!FileManager.default.fileExists(atPath: layout.target + "/.good.txt.ferry-part"))
        #expect(lstat(layout.target + "/linked", &info) == 0 && info.st_mode & S_IFMT == S_IFLNK)
        #expect(result.stderr.contains("skipping linked/"), "\(result.stderr)")
        #expect(result.stderr.contains("symbolic link"), "\(result.stderr)")
        #expect(result.status == 70, "\(result.status) \(result.stderr)")
    }

    @Test("the shell's mget refuses the server's hostile names and fetches the rest")
    func mgetRefusesHostileNames() async throws {
        let layout = try Layout()
        defer { layout.remove() }
        let server = try await HostileServer(listing: "mlsd", scenario: "hostile", directory: layout.server)
        defer { server.stop() }
        try FileManager.default.createDirectory(atPath: layout.target, withIntermediateDirectories: true)
        let before = layout.snapshot()

        let result = try await self.ferry(
            ["--plain", "ftp://anyone@127.0.0.1:\(server.port)/tree"],
            layout,
            stdin: "lcd \(layout.target)\nmget *.txt ../* /* a/* nul* .good* LLL* . ..\nbye\n"
        )

        let created = layout.snapshot().subtracting(before)
        #expect(created == ["outer/inner/target/good.txt"], "\(created.sorted())\n\(result.stderr)")
        #expect(FileManager.default.contents(atPath: layout.target + "/good.txt") == Self.content("good.txt"))
        for name in [
            "\"../../escape\"", "\"/abs/path\"", "\"a/b\"", "\"nul\\0name\"", "\".good.txt.ferry-part\"",
            "\"../../escdir\"", "\"/absdir\"", "\"" + String(repeating: "L", count: 300) + "\"", "\".\"",
            "\"..\"",
        ] {
            #expect(result.stderr.contains("mget: refusing the name \(name)"), "\(name): \(result.stderr)")
        }
        #expect(result.status == 0, "\(result.status) \(result.stderr)")
    }
}
