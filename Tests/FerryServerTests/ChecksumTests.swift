import FerryTestSupport
import Foundation
import Testing

/// HASH, RANG, the X… checksum commands and SITE EXPECT against Python's hashlib and zlib.
@Suite("checksums")
struct ChecksumTests {
    @Test(
        "every algorithm matches hashlib/zlib for 0 B, 1 B, 1 MiB, with and without ranges; cache; verify-before-commit",
        arguments: ["checksums", "checksum_cache", "expect", "hash_during_upload"]
    )
    func commands(_ scenario: String) async throws {
        try await withServer { server in try await runFtplib(scenario, server) }
    }

    @Test(
        "with --hash-uploads the digests recorded while writing (also over APPE and REST prefixes) are the right ones",
        arguments: ["checksum_cache", "expect", "hash_during_upload"]
    )
    func recordedWhileUploading(_ scenario: String) async throws {
        try await withServer(configure: { $0.hashUploads = true }) { server in try await runFtplib(scenario, server) }
    }

    @Test("a 256 MiB file, every algorithm, while another client keeps downloading")
    func largeFile() async throws {
        try await withServer { server in
            // Written by the test (not uploaded), so no digest is cached and every algorithm reads the file.
            let url = URL(fileURLWithPath: server.home("alice") + "/large.bin")
            _ = FileManager.default.createFile(atPath: url.path, contents: nil)
            let handle = try FileHandle(forWritingTo: url)
            var block = [UInt8](repeating: 0, count: 1 << 20)
            var generator = SystemRandomNumberGenerator()
            for index in block.indices { block[index] = UInt8.random(in: 0...255, using: &generator) }
            for chunk in 0..<256 {
                block[chunk % block.count] &+= UInt8(truncatingIfNeeded: chunk)
                try handle.write(contentsOf: block)
            }
            try handle.close()
            try await runFtplib("hash_large", server, timeout: .seconds(400))
        }
    }
}
