import FerryServer
import FerryTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Per-user quotas, driven by Python's ftplib and curl, each checked on disk.
@Suite("quotas")
struct QuotaTests {
    static let mebibyte: Int64 = 1 << 20

    @Test(
        "enforced exactly: boundary, overwrite, APPE, REST, RNTO, DELE; stops mid-transfer; races never overshoot",
        arguments: ["quota_boundary", "quota_stops_midway", "quota_concurrent"]
    )
    func bytes(_ scenario: String) async throws {
        try await withServer(quotas: ["alice": .init(bytes: Self.mebibyte)]) { server in
            try await runFtplib(scenario, server)
        }
    }

    @Test("a file-count limit")
    func files() async throws {
        try await withServer(quotas: ["alice": .init(bytes: nil, files: 3)]) { server in
            try await runFtplib("quota_files", server)
        }
    }

    @Test("two users with different quotas")
    func twoUsers() async throws {
        let quotas: [String: TestServer.Quota] = [
            "alice": .init(bytes: Self.mebibyte), "bob": .init(bytes: 2 * Self.mebibyte),
        ]
        try await withServer(quotas: quotas) { server in try await runFtplib("quota_two_users", server) }
    }

    @Test("a rescan picks up files changed outside the server")
    func rescan() async throws {
        try await withServer(quotas: ["alice": .init(bytes: Self.mebibyte)]) { server in
            try Data(count: 600 * 1024).write(to: URL(fileURLWithPath: server.home("alice") + "/outside.bin"))
            // What `ferryd user rescan alice` does.
            let counts = try await HomeUsage.reconcile(
                store: server.store,
                dataDirectory: server.dataDirectory,
                users: ["alice"]
            )
            let bytes: Int64? = counts["alice"]?.bytes
            #expect(bytes == Int64(600 * 1024))
            try await runFtplib("quota_after_rescan", server)
        }
    }

    @Test("curl gets an upload error over the quota and no file is left")
    func curlOverQuota() async throws {
        try await withServer(quotas: ["alice": .init(bytes: 1000)]) { server in
            let url = "ftp://127.0.0.1:\(server.port)/too-big.bin"
            let result = try await curl(
                ["--user", "alice:alice-secret", "-T", "-", url],
                stdin: Data(count: 5000)
            )
            #expect(result.status != 0)
            // curl maps 552 to its "remote disk full" exit code.
            #expect(result.status == 70, "\(result.status) \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: server.home("alice") + "/too-big.bin"))
            let fits = try await curl(["--user", "alice:alice-secret", "-T", "-", url], stdin: Data(count: 1000))
            #expect(fits.status == 0, "\(fits.stderr)")
        }
    }

    @Test(
        "a full disk fails the upload with 452 and keeps the old file",
        .enabled(if: getuid() == 0, "mounting a small tmpfs needs root")
    )
    func diskFull() async throws {
        let mountPoint = FileManager.default.temporaryDirectory.appendingPathComponent(
            "ferry-full-\(UUID().uuidString)"
        )
        .path
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mounted = try await runProcess("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint])
        try #require(mounted.status == 0, "cannot mount a tmpfs: \(mounted.stderr)")
        defer {
            _ = umount(mountPoint)
            try? FileManager.default.removeItem(atPath: mountPoint)
        }
        try await withServer(homes: ["alice": mountPoint + "/alice"]) { server in
            try await runFtplib("disk_full", server)
        }
    }
}
