import FerryTestSupport
import Foundation
import Testing

/// curl, the other client every machine has, against the real server: listing, upload, download, active and
/// passive modes, quote commands, and the error codes it reports.
@Suite("curl against ferryd")
struct CurlTests {
    func url(_ server: TestServer, _ path: String = "/") -> String {
        let host = server.host.contains(":") ? "[\(server.host)]" : server.host
        return "ftp://\(host):\(server.port)\(path)"
    }

    let credentials = ["--user", "alice:alice-secret"]

    @Test("upload, list, download byte-identical, in EPSV, PASV and active mode")
    func roundTrip() async throws {
        try await withServer { server in
            let local = FileManager.default.temporaryDirectory.appendingPathComponent("curl-\(UUID().uuidString)")
            let payload = Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) })
            try payload.write(to: local)
            defer { try? FileManager.default.removeItem(at: local) }

            let modes: [(String, [String])] = [
                ("epsv", []), ("pasv", ["--disable-epsv"]), ("active", ["--ftp-port", "127.0.0.1"]),
            ]
            for (name, flags) in modes {
                let upload = try await curl(
                    self.credentials + flags + ["-T", local.path, self.url(server, "/\(name).bin")]
                )
                #expect(upload.status == 0, "\(name) upload: \(upload.stderr)")
                let onDisk = try Data(contentsOf: URL(fileURLWithPath: server.home("alice") + "/\(name).bin"))
                #expect(onDisk == payload, "\(name): disk copy differs")

                let download = FileManager.default.temporaryDirectory.appendingPathComponent("dl-\(UUID().uuidString)")
                defer { try? FileManager.default.removeItem(at: download) }
                let get = try await curl(
                    self.credentials + flags + ["-o", download.path, self.url(server, "/\(name).bin")]
                )
                #expect(get.status == 0, "\(name) download: \(get.stderr)")
                #expect(try Data(contentsOf: download) == payload, "\(name): download differs")
            }
            let list = try await curl(self.credentials + [self.url(server)])
            #expect(list.status == 0)
            let names = list.stdout.split(whereSeparator: \.isNewline).compactMap {
                $0.split(separator: " ").last.map(String.init)
            }
            #expect(names.sorted() == ["active.bin", "epsv.bin", "pasv.bin"])
            let nlst = try await curl(self.credentials + ["--list-only", self.url(server)])
            #expect(nlst.stdout.split(whereSeparator: \.isNewline).sorted() == ["active.bin", "epsv.bin", "pasv.bin"])
        }
    }

    @Test("directories are created on upload, quote commands work, resume continues a download")
    func directoriesAndQuote() async throws {
        try await withServer { server in
            let upload = try await curl(
                self.credentials + ["--ftp-create-dirs", "-T", "-", self.url(server, "/a/b/c/file.txt")],
                stdin: Data("hello\n".utf8)
            )
            #expect(upload.status == 0, "\(upload.stderr)")
            #expect(FileManager.default.fileExists(atPath: server.home("alice") + "/a/b/c/file.txt"))

            let quote = try await curl(
                self.credentials + [
                    "-Q", "RNFR a/b/c/file.txt", "-Q", "RNTO a/renamed.txt", "-Q", "DELE a/renamed.txt",
                    "--list-only", self.url(server, "/a/"),
                ]
            )
            #expect(quote.status == 0, "\(quote.stderr)")
            #expect(!FileManager.default.fileExists(atPath: server.home("alice") + "/a/renamed.txt"))

            // -C - resumes: a partial local file is completed with REST.
            let content = Data((0..<100_000).map { UInt8($0 % 251) })
            try content.write(to: URL(fileURLWithPath: server.home("alice") + "/r.bin"))
            let partial = FileManager.default.temporaryDirectory.appendingPathComponent("part-\(UUID().uuidString)")
            try content.prefix(40_000).write(to: partial)
            defer { try? FileManager.default.removeItem(at: partial) }
            let resumed = try await curl(
                self.credentials + ["-C", "-", "-o", partial.path, self.url(server, "/r.bin")]
            )
            #expect(resumed.status == 0, "\(resumed.stderr)")
            #expect(try Data(contentsOf: partial) == content)
        }
    }

    @Test("errors: wrong password 67, missing file 78, escape attempt 78")
    func errors() async throws {
        try await withServer { server in
            let wrong = try await curl(["--user", "alice:nope", self.url(server)])
            #expect(wrong.status == 67, "\(wrong.stderr)")
            let unknown = try await curl(["--user", "mallory:nope", self.url(server)])
            #expect(unknown.status == 67, "\(unknown.stderr)")
            let missing = try await curl(self.credentials + [self.url(server, "/missing.txt")])
            #expect(missing.status == 78, "\(missing.stderr)")
            let escape = try await curl(
                self.credentials + ["--path-as-is", self.url(server, "/../../../../etc/passwd")]
            )
            #expect(escape.status != 0)
            #expect(!escape.stdout.contains("root:"))
        }
    }

    @Test("IPv6 with EPSV and EPRT")
    func ipv6() async throws {
        try await withServer(host: "::1") { server in
            let upload = try await curl(
                self.credentials + ["-T", "-", self.url(server, "/six.txt")],
                stdin: Data("v6".utf8)
            )
            #expect(upload.status == 0, "\(upload.stderr)")
            let active = try await curl(self.credentials + ["--ftp-port", "::1", self.url(server, "/six.txt")])
            #expect(active.status == 0 && active.stdout == "v6", "\(active.stderr)")
        }
    }
}
