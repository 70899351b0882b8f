import FerryServer
import FerryTestSupport
import Testing

/// Plain binary passive transfers whose connection is already queued when the command comes are accepted by ferryd
/// itself (`DirectDataSocket`): uploads are received with splice(2) on threads of their own (`DirectUploads`), small
/// downloads sent with sendfile(2) without a NIO channel. Everything else, and any upload when those threads are busy
/// or off, goes through NIO. Both paths must move the same bytes and fail the same way.
@Suite("direct transfers")
struct DirectTransferTests {
    @Test("small binary passive RETR is sent directly, also when the socket fills up; large, ASCII and active are not")
    func whichDownloadsAreDirect() async throws {
        try await withServer(configure: { $0.sendfileMaximumSize = 16 << 20 }) { server in
            try await runFtplib("download_paths", server)
            let downloads = server.transfers.all.filter { $0["command"] == "RETR" }
            #expect(
                downloads.map { $0["path"] ?? "" } == [
                    "/small.bin", "/small.bin", "/empty.bin", "/mid.bin", "/big.bin", "/text.txt", "/small.bin",
                ]
            )
            #expect(downloads.map { $0["via"] == "direct" } == [true, true, true, true, false, false, false])
            #expect(downloads.map { $0["bytes"] ?? "" } == ["4096", "3096", "0", "8388608", "25165824", "10", "4096"])
            #expect(downloads.allSatisfy { $0["result"] == "ok" })
        }
    }

    @Test("binary passive STOR, APPE and REST+STOR are spliced; ASCII, active mode and SITE EXPECT are not")
    func whichUploadsAreSpliced() async throws {
        try await withServer { server in
            try await runFtplib("upload_paths", server)
            let uploads = server.transfers.all.filter { ["STOR", "APPE"].contains($0["command"]) }
            #expect(
                uploads.map { $0["path"] ?? "" } == [
                    "/plain.bin", "/plain.bin", "/resumed.bin", "/resumed.bin", "/text.txt", "/active.bin",
                    "/expected.bin",
                ]
            )
            #expect(uploads.map { $0["via"] == "direct" } == [true, true, true, true, false, false, false])
            #expect(uploads.allSatisfy { $0["result"] == "ok" })
        }
    }

    @Test("uploads that hash as they arrive (--hash-uploads) are not spliced")
    func hashedUploadsAreNotSpliced() async throws {
        try await withServer(configure: { $0.hashUploads = true }) { server in
            try await runFtplib("integrity", server)
            let uploads = server.transfers.all.filter { $0["command"] == "STOR" }
            #expect(!uploads.isEmpty)
            #expect(!uploads.contains { $0["via"] == "direct" })
        }
    }

    @Test("with every direct-upload thread busy, another upload takes the event loop at once")
    func busyThreads() async throws {
        try await withServer(configure: { $0.directUploadThreads = 1 }) { server in
            try await runFtplib("uploads_while_busy", server)
            let uploads = server.transfers.all.filter { $0["command"] == "STOR" }
            #expect(uploads.map { $0["path"] ?? "" } == ["/fast.bin", "/slow.bin"])
            #expect(uploads.map { $0["via"] == "direct" } == [false, true])
        }
    }

    @Test(
        "on both paths: a stalled upload times out, an interrupted or aborted one keeps the old file, quota stops it",
        arguments: [0, 8]
    )
    func failures(threads: Int) async throws {
        try await withServer(configure: {
            $0.directUploadThreads = threads
            $0.dataIdleTimeout = .seconds(1)
        }) { server in
            for scenario in ["stalled_upload", "interrupted_upload", "abort", "resume"] {
                try await runFtplib(scenario, server)
            }
            let uploads = server.transfers.all.filter { $0["command"] == "STOR" }
            #expect(uploads.contains { $0["via"] == "direct" } == (threads > 0))
        }
        try await withServer(
            quotas: ["alice": .init(bytes: 1 << 20)],
            configure: { $0.directUploadThreads = threads }
        ) { server in
            try await runFtplib("quota_stops_midway", server)
            try await runFtplib("quota_concurrent", server)
        }
    }
}
