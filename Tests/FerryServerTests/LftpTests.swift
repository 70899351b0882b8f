import FerryTestSupport
import Foundation
import Testing

/// lftp (installed by `.ci/run`): a demanding client that pipelines commands, parses listings and mirrors
/// whole trees.
@Suite("lftp against ferryd", .enabled(if: isInstalled("lftp"), "lftp is not installed (.ci/run installs it)"))
struct LftpTests {
    func lftp(_ server: TestServer, _ script: String) async throws -> ProcessResult {
        let setup = [
            "set cmd:fail-exit yes", "set ftp:ssl-allow no", "set net:max-retries 1", "set net:timeout 20",
            "set xfer:clobber yes", "open -u alice,alice-secret -p \(server.port) \(server.host)",
        ]
        return try await runProcess("lftp", ["-c", (setup + [script]).joined(separator: "; ")])
    }

    @Test("mirror a tree up and back down, byte-identical")
    func mirror() async throws {
        try await withServer { server in
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("lftp-\(UUID().uuidString)")
            let source = root.appendingPathComponent("source")
            let back = root.appendingPathComponent("back")
            defer { try? FileManager.default.removeItem(at: root) }
            var files: [String: Data] = [:]
            for (index, relative) in ["a.txt", "dir one/b.bin", "dir one/nested/c d.txt", "ünï/ç.txt", "empty.bin"]
                .enumerated()
            {
                let url = source.appendingPathComponent(relative)
                try FileManager.default.createDirectory(
                    at: url.deletingLastPathComponent(),
                    withIntermediateDirectories: true
                )
                let data = relative == "empty.bin" ? Data() : Data((0..<(index * 70_001 + 5)).map { UInt8($0 % 253) })
                try data.write(to: url)
                files[relative] = data
            }
            let up = try await self.lftp(server, "mirror -R \"\(source.path)\" /tree")
            #expect(up.status == 0, "\(up.stdout)\(up.stderr)")
            let down = try await self.lftp(server, "mirror /tree \"\(back.path)\"")
            #expect(down.status == 0, "\(down.stdout)\(down.stderr)")
            for (relative, data) in files {
                let onServer = try Data(contentsOf: URL(fileURLWithPath: server.home("alice") + "/tree/" + relative))
                #expect(onServer == data, "server copy of \(relative)")
                #expect(try Data(contentsOf: back.appendingPathComponent(relative)) == data, "mirrored \(relative)")
            }
            let listing = try await self.lftp(server, "cd /tree; cls -1")
            #expect(listing.stdout.split(separator: "\n").sorted() == ["a.txt", "dir one/", "empty.bin", "ünï/"])
        }
    }

    @Test("mkdir, mv, rm, rmdir and an escape attempt")
    func navigation() async throws {
        try await withServer { server in
            let result = try await self.lftp(
                server,
                "mkdir -p x/y; put /etc/hostname -o x/y/h; mv x/y/h x/h2; rm x/h2; rmdir x/y; rmdir x; cd ..; pwd"
            )
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            // `cd ..` from the root stays at the root.
            #expect(result.stdout.hasSuffix("@\(server.host):\(server.port)/\n"), "\(result.stdout)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: server.home("alice")).isEmpty)
        }
    }
}

func isInstalled(_ program: String) -> Bool {
    (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").contains {
        FileManager.default.isExecutableFile(atPath: "\($0)/\(program)")
    }
}
