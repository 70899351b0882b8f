import FerryTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The `ferryd` executable as an operator uses it: user administration, first start, and SIGTERM.
@Suite("ferryd command line")
struct FerrydCLITests {
    /// The `ferryd` binary built beside the test bundle.
    static let ferryd = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("ferryd").path

    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ferryd-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func ferryd(_ arguments: [String], stdin: String? = nil) async throws -> ProcessResult {
        try await runProcess(Self.ferryd, arguments, stdin: stdin.map { Data($0.utf8) })
    }

    @Test("under a low open-file limit ferryd serve lowers --max-connections to what the limit carries, and says so")
    func descriptorLimit() async throws {
        let data = try self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        // The hard limit 300 carries 300 - 64 = 236 connections. The address is one no interface has, so the
        // bind fails right after the limit is fitted and the server exits (nothing is sent anywhere).
        let result = try await runProcess(
            "sh",
            [
                "-c", "ulimit -Sn 100; ulimit -Hn 300; exec \"$0\" serve --data \"$1\" --host 203.0.113.1 --port 0",
                Self.ferryd, data,
            ]
        )
        #expect(result.status != 0)
        #expect(
            result.stderr.contains("--max-connections lowered") && result.stderr.contains("allowed=236")
                && result.stderr.contains("open-file limit=300"),
            "\(result.stderr)"
        )
    }

    @Test("duration flags are bounded: a huge --ban-time is refused, not overflowed")
    func boundedDurations() async throws {
        let data = try self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        for flags in [
            ["--ban-time", "99999999999999"], ["--idle-timeout", "0"], ["--idle-timeout", "9999999999999"],
            ["--credential-cache-ttl", "99999999999999"], ["--max-queued-logins", "0"],
        ] {
            let result = try await self.ferryd(["serve", "--data", data, "--port", "0"] + flags)
            #expect(result.status != 0 && result.stderr.contains(flags[0]), "\(flags): \(result.stderr)")
        }
    }

    @Test("a home that contains the data folder or overlaps another home is refused unless --force")
    func homeOverlap() async throws {
        let data = try self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let add = try await self.ferryd(["user", "add", "alice", "--data", data, "--password-stdin"], stdin: "pw\n")
        #expect(add.status == 0, "\(add.stderr)")
        let parent = (data as NSString).deletingLastPathComponent
        for (home, reason) in [
            ("/", "contains the data folder"), (parent, "contains the data folder"), (data, "contains the data folder"),
            (data + "/tls", "inside the data folder"), (data + "/homes/alice/sub", "overlaps the home of 'alice'"),
            (data + "/homes", "overlaps the home of 'alice'"), (data + "/homes/../homes/alice", "overlaps"),
        ] {
            let result = try await self.ferryd(
                ["user", "add", "eve", "--data", data, "--password-stdin", "--home", home],
                stdin: "pw\n"
            )
            #expect(result.status != 0 && result.stderr.contains(reason), "\(home): \(result.stderr)")
        }
        let separate = try self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: separate) }
        let ok = try await self.ferryd(
            ["user", "add", "eve", "--data", data, "--password-stdin", "--home", separate],
            stdin: "pw\n"
        )
        #expect(ok.status == 0, "\(ok.stderr)")
        let forced = try await self.ferryd(
            ["user", "add", "mallory", "--data", data, "--password-stdin", "--home", separate + "/x", "--force"],
            stdin: "pw\n"
        )
        #expect(forced.status == 0, "\(forced.stderr)")
    }

    @Test("user add, list, quota, passwd, remove, with clear errors")
    func userAdministration() async throws {
        let data = try self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }

        let add = try await self.ferryd(
            ["user", "add", "alice", "--data", data, "--password-stdin", "--quota", "10MiB"],
            stdin: "s3cret\n"
        )
        #expect(add.status == 0, "\(add.stderr)")
        #expect(FileManager.default.fileExists(atPath: data + "/homes/alice"))
        let database = try String(contentsOfFile: data + "/ferry.sqlite", encoding: .isoLatin1)
        #expect(!database.contains("s3cret"), "password stored in clear")

        let duplicate = try await self.ferryd(
            ["user", "add", "alice", "--data", data, "--password-stdin"],
            stdin: "x\n"
        )
        #expect(duplicate.status != 0 && duplicate.stderr.contains("already exists"), "\(duplicate.stderr)")
        for bad in ["a/b", "..", ".hidden", String(repeating: "x", count: 65)] {
            let result = try await self.ferryd(["user", "add", bad, "--data", data, "--password-stdin"], stdin: "x\n")
            #expect(result.status != 0, "name \(bad) accepted")
        }
        let badSize = try await self.ferryd(["user", "quota", "alice", "12 parsecs", "--data", data])
        #expect(badSize.status != 0 && badSize.stderr.contains("invalid size"), "\(badSize.stderr)")
        let unknown = try await self.ferryd(["user", "quota", "nobody", "1GB", "--data", data])
        #expect(unknown.status != 0 && unknown.stderr.contains("no such user 'nobody'"), "\(unknown.stderr)")

        let quota = try await self.ferryd(["user", "quota", "alice", "2GB", "--data", data])
        #expect(quota.status == 0 && quota.stdout.contains("2000000000 bytes"), "\(quota.stdout)\(quota.stderr)")
        // Files changed outside the server count after a rescan; stale upload temporaries are removed by it.
        try Data(count: 1234).write(to: URL(fileURLWithPath: data + "/homes/alice/f.bin"))
        try Data(count: 99).write(to: URL(fileURLWithPath: data + "/homes/alice/.ferry-upload-stale"))
        let rescan = try await self.ferryd(["user", "rescan", "alice", "--data", data])
        #expect(
            rescan.stdout == "alice: 1.2 KiB (1234 bytes) in 1 files, 1 stale uploads removed\n",
            "\(rescan.stdout)"
        )
        #expect(!FileManager.default.fileExists(atPath: data + "/homes/alice/.ferry-upload-stale"))
        let list = try await self.ferryd(["user", "list", "--data", data])
        let row = list.stdout.split(separator: "\n").first { $0.hasPrefix("alice") } ?? ""
        #expect(row.contains("1.2 KiB (1234)") && row.contains("(2000000000)") && row.contains(" 1 "), "\(list.stdout)")
        let neither = try await self.ferryd(["user", "rescan", "--data", data])
        #expect(neither.status != 0 && neither.stderr.contains("--all"), "\(neither.stderr)")

        // A default quota for new users.
        let setDefault = try await self.ferryd(["user", "default-quota", "5GB", "--files", "100", "--data", data])
        #expect(setDefault.stdout.contains("5000000000 bytes") && setDefault.stdout.contains("files 100"))
        let dora = try await self.ferryd(["user", "add", "dora", "--data", data, "--password-stdin"], stdin: "pw\n")
        #expect(dora.stdout.contains("5000000000 bytes") && dora.stdout.contains("files 100"), "\(dora.stdout)")
        let badFiles = try await self.ferryd(["user", "quota", "dora", "1GB", "--files", "0", "--data", data])
        #expect(badFiles.status != 0 && badFiles.stderr.contains("invalid file limit"), "\(badFiles.stderr)")
        let unlimited = try await self.ferryd(["user", "quota", "alice", "unlimited", "--data", data])
        #expect(unlimited.status == 0)

        let passwd = try await self.ferryd(
            ["user", "passwd", "alice", "--data", data, "--password-stdin"],
            stdin: "new\n"
        )
        #expect(passwd.status == 0, "\(passwd.stderr)")
        let remove = try await self.ferryd(["user", "remove", "alice", "--data", data, "--delete-home"])
        #expect(remove.status == 0, "\(remove.stderr)")
        #expect(!FileManager.default.fileExists(atPath: data + "/homes/alice"))
        let again = try await self.ferryd(["user", "remove", "alice", "--data", data])
        #expect(again.status != 0 && again.stderr.contains("alice"), "\(again.stderr)")
    }

    @Test(
        "serve refuses out-of-range limits before starting, naming the option",
        arguments: [
            ["--passive-linger", "-1"], ["--passive-linger", "4000"], ["--credential-cache-ttl", "-5"],
            ["--max-connections", "0"], ["--passive-ports", "9-3"], ["--direct-uploads", "-1"],
            ["--direct-uploads", "5000"],
        ]
    )
    func serveRefusesBadLimits(_ option: [String]) async throws {
        let data = try self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let result = try await self.ferryd(["serve", "--data", data, "--port", "0"] + option)
        #expect(result.status != 0)
        #expect(result.stderr.contains(option[0]), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: data + "/ferry.sqlite"), "started despite \(option)")
    }

    @Test("first start creates 'demo', prints its password once; SIGTERM lets a transfer finish")
    func firstStartAndGracefulShutdown() async throws {
        let data = try self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.ferryd)
        process.arguments = ["--data", data, "--port", String(port)]
        let out = data + "/stdout.txt"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        var password: String?
        for _ in 0..<300 where password == nil {
            try await Task.sleep(for: .milliseconds(100))
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            password = text.split(separator: "\n").first { $0.hasPrefix("demo password: ") }
                .map { String($0.dropFirst("demo password: ".count)) }
        }
        let demo = try #require(password, "no demo password printed")
        let url = "ftp://127.0.0.1:\(port)/"
        var login: ProcessResult?
        for _ in 0..<50 {
            login = try await curl(["--user", "demo:\(demo)", url])
            if login?.status == 0 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(login?.status == 0, "\(login?.stderr ?? "")")

        // A slow download is running when SIGTERM arrives: it completes, then the server exits cleanly.
        let payload = Data((0..<1_500_000).map { UInt8($0 % 241) })
        try payload.write(to: URL(fileURLWithPath: data + "/homes/demo/slow.bin"))
        let target = data + "/slow-copy.bin"
        let slow = Task {
            try await curl(["--user", "demo:\(demo)", "--limit-rate", "1M", "-o", target, url + "slow.bin"])
        }
        // Wait until bytes flow (the transfer is in flight), then send SIGTERM.
        for _ in 0..<100 {
            let size = (try? FileManager.default.attributesOfItem(atPath: target)[.size] as? Int) ?? 0
            if size > 0 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        let download = try await slow.value
        #expect(download.status == 0, "\(download.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == payload)
        for _ in 0..<100 where process.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!process.isRunning)
        #expect(process.terminationStatus == 0)
        // Printed once: a second start does not create or print anything.
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(text.components(separatedBy: "demo password:").count == 2)
    }
}

extension FerrydCLITests {
    @Test("--tls-cert/--tls-key are served, and SIGHUP reloads them without a restart")
    func certificateReload() async throws {
        let data = try self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        func makeCertificate(_ name: String) async throws -> String {
            let made = try await runProcess(
                "openssl",
                [
                    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                    "-subj", "/CN=\(name)", "-keyout", "\(data)/\(name).key", "-out", "\(data)/\(name).crt",
                ]
            )
            try #require(made.status == 0, "\(made.stderr)")
            let fingerprint = try await runProcess(
                "openssl",
                ["x509", "-noout", "-fingerprint", "-sha256", "-in", "\(data)/\(name).crt"]
            )
            return String(fingerprint.stdout.split(separator: "=").last ?? "").trimmingCharacters(
                in: .whitespacesAndNewlines
            )
        }
        func served(_ port: Int) async throws -> String {
            let result = try await runProcess(
                "sh",
                [
                    "-c",
                    "openssl s_client -starttls ftp -connect 127.0.0.1:\(port) </dev/null 2>/dev/null"
                        + " | openssl x509 -noout -fingerprint -sha256",
                ]
            )
            return String(result.stdout.split(separator: "=").last ?? "").trimmingCharacters(
                in: .whitespacesAndNewlines
            )
        }
        let first = try await makeCertificate("one")
        let second = try await makeCertificate("two")
        try FileManager.default.copyItem(atPath: data + "/one.crt", toPath: data + "/cert.pem")
        try FileManager.default.copyItem(atPath: data + "/one.key", toPath: data + "/key.pem")
        let port = try freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.ferryd)
        process.arguments = [
            "--data", data + "/d", "--port", String(port), "--tls-cert", data + "/cert.pem", "--tls-key",
            data + "/key.pem",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        var before = ""
        for _ in 0..<100 where before.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            before = try await served(port)
        }
        #expect(before == first)
        // Replace the files (as a renewal would) and send SIGHUP.
        for (source, target) in [("two.crt", "cert.pem"), ("two.key", "key.pem")] {
            try FileManager.default.removeItem(atPath: data + "/" + target)
            try FileManager.default.copyItem(atPath: data + "/" + source, toPath: data + "/" + target)
        }
        kill(process.processIdentifier, SIGHUP)
        var after = before
        for _ in 0..<50 where after != second {
            try await Task.sleep(for: .milliseconds(100))
            after = try await served(port)
        }
        #expect(after == second)
        #expect(process.isRunning)
    }
}

/// A TCP port that was free a moment ago (for starting the real executable).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard bound else { throw POSIXError(.EADDRINUSE) }
    return Int(UInt16(bigEndian: address.sin_port))
}
