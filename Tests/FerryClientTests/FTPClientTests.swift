import FerryClient
import FerryIntegrity
import FerryProtocol
import FerryTLS
import FerryTestSupport
import Foundation
import NIOCore
import NIOSSL
import Testing

/// The client library against the real server, in process, on loopback.
@Suite("FerryClient against ferryd")
struct FTPClientTests {
    static func endpoint(_ server: TestServer, _ security: FTPSecurity = .explicit) -> FTPEndpoint {
        FTPEndpoint(
            host: server.host,
            port: security == .implicit ? server.implicitTLSPort! : server.port,
            security: security
        )
    }

    /// Trusts exactly the test server's generated certificate.
    static func configuration(_ server: TestServer, passive: Bool = true) throws -> FTPClientConfiguration {
        var configuration = FTPClientConfiguration()
        configuration.trust = .certificates(try NIOSSLCertificate.fromPEMFile(server.dataDirectory + "/tls/cert.pem"))
        configuration.passive = passive
        return configuration
    }

    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-client-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func randomData(_ count: Int) -> Data {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    @Test("every operation, over explicit FTPS", arguments: [true, false])
    func operations(passive: Bool) async throws {
        try await withServer { server in
            let local = try Self.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: local) }
            try await FTPClient.withConnection(
                to: Self.endpoint(server),
                configuration: try Self.configuration(server, passive: passive)
            ) { client in
                #expect(client.peerFingerprint == server.fingerprint)
                try await client.login(user: "alice", password: "alice-secret")
                #expect(try await client.pwd() == "/")
                try await client.mkdir("docs")
                try await client.cd("docs")
                #expect(try await client.pwd() == "/docs")
                try await client.cd("..")
                let payload = Self.randomData(300_000)
                try payload.write(to: URL(fileURLWithPath: local + "/up.bin"))
                let up = try await client.upload(local + "/up.bin", to: "docs/a file.bin")
                #expect(up.size == 300_000)
                #expect(up.verification == .digest(.sha256, command: "HASH", beforeCommit: true))
                #expect(
                    try Data(contentsOf: URL(fileURLWithPath: server.home("alice") + "/docs/a file.bin")) == payload
                )
                #expect(try await client.size("docs/a file.bin") == 300_000)
                #expect(try await client.modificationTime("docs/a file.bin") != nil)
                let entries = try await client.list("docs")
                #expect(entries.map(\.name) == ["a file.bin"])
                #expect(entries.first?.size == 300_000)
                #expect(try await client.names("docs") == ["docs/a file.bin"])
                let down = try await client.download("docs/a file.bin", to: local + "/down.bin")
                #expect(down.verification == .digest(.sha256, command: "HASH", beforeCommit: false))
                #expect(try Data(contentsOf: URL(fileURLWithPath: local + "/down.bin")) == payload)
                try await client.rename("docs/a file.bin", to: "docs/b.bin")
                try await client.delete("docs/b.bin")
                try await client.rmdir("docs")
                #expect(try await client.list().isEmpty)
                #expect(try await client.quota().joined().contains("Bytes:"))
                // A remote error carries the server's code and text.
                do {
                    try await client.delete("missing")
                    Issue.record("deleting a missing file succeeded")
                } catch let error as FTPClientError {
                    #expect(error.kind == .remote && error.code == 550)
                }
            }
        }
    }

    @Test(
        "sizes 0 B, 1 B and 5 MiB over plain FTP, explicit and implicit FTPS",
        arguments: [FTPSecurity.none, .explicit, .implicit]
    )
    func roundTrips(security: FTPSecurity) async throws {
        try await withServer(configure: { $0.implicitTLSPort = 0 }) { server in
            let local = try Self.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: local) }
            try await FTPClient.withConnection(
                to: Self.endpoint(server, security),
                configuration: try Self.configuration(server)
            ) { client in
                try await client.login(user: "alice", password: "alice-secret")
                for size in [0, 1, 5 << 20] {
                    let payload = Self.randomData(size)
                    try payload.write(to: URL(fileURLWithPath: local + "/\(size)"))
                    let up = try await client.upload(local + "/\(size)", to: "f\(size)")
                    #expect(up.verification.isVerified)
                    let down = try await client.download("f\(size)", to: local + "/back\(size)")
                    #expect(down.size == Int64(size))
                    #expect(try Data(contentsOf: URL(fileURLWithPath: local + "/back\(size)")) == payload)
                }
            }
        }
    }

    @Test("a download whose data does not match the server's digest is an error and leaves no file")
    func corruptedDownload() async throws {
        try await withServer { server in
            let local = try Self.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: local) }
            let remoteFile = server.home("alice") + "/data.bin"
            try Self.randomData(1 << 20).write(to: URL(fileURLWithPath: remoteFile))
            try await FTPClient.withConnection(to: Self.endpoint(server), configuration: try Self.configuration(server))
            {
                client in
                try await client.login(user: "alice", password: "alice-secret")
                do {
                    // When the last byte has arrived, the file on the server changes: what we received no longer
                    // matches what the server holds, exactly as if bytes had been corrupted on the way.
                    _ = try await client.download("data.bin", to: local + "/data.bin") { progress in
                        if progress.bytes == 1 << 20 {
                            try? Self.randomData(1 << 20).write(to: URL(fileURLWithPath: remoteFile))
                        }
                    }
                    Issue.record("a corrupted download was accepted")
                } catch let error as FTPClientError {
                    #expect(error.kind == .verification, "\(error)")
                    #expect(error.message.contains("SHA-256 mismatch"))
                }
                #expect(!FileManager.default.fileExists(atPath: local + "/data.bin"))
                #expect(!FileManager.default.fileExists(atPath: local + "/.data.bin.ferry-part"))
            }
        }
    }

    @Test("an upload corrupted on the way is refused by the server before commit (SITE EXPECT)")
    func corruptedUpload() async throws {
        try await withServer { server in
            let local = try Self.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: local) }
            let path = local + "/up.bin"
            try Self.randomData(3 << 20).write(to: URL(fileURLWithPath: path))
            try Data("the old version".utf8).write(to: URL(fileURLWithPath: server.home("alice") + "/up.bin"))
            try await FTPClient.withConnection(to: Self.endpoint(server), configuration: try Self.configuration(server))
            {
                client in
                try await client.login(user: "alice", password: "alice-secret")
                do {
                    // The file changes after its digest was announced: the bytes sent no longer match it.
                    _ = try await client.upload(path, to: "up.bin") { progress in
                        // Called once with 0 bytes before anything is sent, after the digest was announced.
                        if progress.bytes == 0, let handle = FileHandle(forWritingAtPath: path) {
                            try? handle.seek(toOffset: 2 << 20)
                            try? handle.write(contentsOf: Data(repeating: 0xAB, count: 4096))
                            try? handle.close()
                        }
                    }
                    Issue.record("a corrupted upload was committed")
                } catch let error as FTPClientError {
                    #expect(error.code == 550, "\(error)")
                }
                let onServer = try String(contentsOfFile: server.home("alice") + "/up.bin", encoding: .utf8)
                #expect(onServer == "the old version")
            }
        }
    }

    @Test("cancel mid-download: ABOR, the session stays usable, and -c resumes from the part file")
    func cancelAndResume() async throws {
        try await withServer { server in
            let local = try Self.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: local) }
            let payload = Self.randomData(24 << 20)
            try payload.write(to: URL(fileURLWithPath: server.home("alice") + "/big.bin"))
            try await FTPClient.withConnection(to: Self.endpoint(server), configuration: try Self.configuration(server))
            {
                client in
                try await client.login(user: "alice", password: "alice-secret")
                let control = TransferControl()
                do {
                    _ = try await client.download("big.bin", to: local + "/big.bin", control: control) { progress in
                        if progress.bytes > 4 << 20 { control.cancel() }
                    }
                    Issue.record("the download was not cancelled")
                } catch let error as FTPClientError {
                    #expect(error.kind == .cancelled, "\(error)")
                }
                #expect(!FileManager.default.fileExists(atPath: local + "/big.bin"))
                let part = try FileManager.default.attributesOfItem(atPath: local + "/.big.bin.ferry-part")
                #expect(((part[.size] as? Int) ?? 0) > 0)
                // The same connection still works.
                #expect(try await client.size("big.bin") == Int64(payload.count))
                let resumed = try await client.download("big.bin", to: local + "/big.bin", resume: true)
                #expect(resumed.resumedFrom > 0)
                #expect(resumed.transferred == Int64(payload.count) - resumed.resumedFrom)
                #expect(resumed.verification == .digest(.sha256, command: "HASH", beforeCommit: false))
                #expect(try Data(contentsOf: URL(fileURLWithPath: local + "/big.bin")) == payload)
            }
        }
    }

    @Test("an interrupted upload resumes with REST and is verified as a whole")
    func resumeUpload() async throws {
        try await withServer { server in
            let local = try Self.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: local) }
            let payload = Self.randomData(2 << 20)
            try payload.write(to: URL(fileURLWithPath: local + "/u.bin"))
            // The server already has the first half (an earlier attempt).
            try payload.prefix(1 << 20).write(to: URL(fileURLWithPath: server.home("alice") + "/u.bin"))
            try await FTPClient.withConnection(to: Self.endpoint(server), configuration: try Self.configuration(server))
            {
                client in
                try await client.login(user: "alice", password: "alice-secret")
                let result = try await client.upload(local + "/u.bin", to: "u.bin", resume: true)
                #expect(result.resumedFrom == 1 << 20 && result.transferred == 1 << 20)
                #expect(result.verification.isVerified)
            }
            #expect(try Data(contentsOf: URL(fileURLWithPath: server.home("alice") + "/u.bin")) == payload)
        }
    }

    @Test("TLS trust: a pinned fingerprint is accepted, a different one refused, an untrusted certificate refused")
    func trust() async throws {
        try await withServer { server in
            var pinned = FTPClientConfiguration()
            pinned.trust = .pinned(try #require(server.fingerprint))
            try await FTPClient.withConnection(to: Self.endpoint(server), configuration: pinned) { client in
                try await client.login(user: "alice", password: "alice-secret")
            }
            var wrong = FTPClientConfiguration()
            wrong.trust = .pinned(String(repeating: "AB:", count: 31) + "AB")
            await #expect {
                try await FTPClient.withConnection(to: Self.endpoint(server), configuration: wrong) { _ in }
            } throws: { error in
                (error as? FTPClientError)?.kind == .tls && "\(error)".contains("changed")
            }
            // The system trust store does not know a self-signed certificate.
            await #expect {
                try await FTPClient.withConnection(to: Self.endpoint(server), configuration: FTPClientConfiguration()) {
                    _ in
                }
            } throws: { error in
                (error as? FTPClientError)?.kind == .tls
            }
            // Wrong password: an authentication error with the server's 530.
            await #expect {
                try await FTPClient.withConnection(to: Self.endpoint(server), configuration: pinned) { client in
                    try await client.login(user: "alice", password: "wrong")
                }
            } throws: { error in
                (error as? FTPClientError)?.kind == .authentication && (error as? FTPClientError)?.code == 530
            }
        }
    }

    @Test("downloads and uploads as byte streams, verified")
    func streams() async throws {
        try await withServer { server in
            try await FTPClient.withConnection(to: Self.endpoint(server), configuration: try Self.configuration(server))
            {
                client in
                try await client.login(user: "alice", password: "alice-secret")
                let chunks = (0..<20).map { index in ByteBuffer(bytes: [UInt8](repeating: UInt8(index), count: 100_000))
                }
                let source = AsyncStream<ByteBuffer> { continuation in
                    for chunk in chunks { continuation.yield(chunk) }
                    continuation.finish()
                }
                let up = try await client.upload(source, to: "stream.bin")
                #expect(
                    up.size == 2_000_000 && up.verification == .digest(.sha256, command: "HASH", beforeCommit: false)
                )
                var received = ByteBuffer()
                let down = try await client.download("stream.bin") { chunk in
                    var chunk = chunk
                    received.writeBuffer(&chunk)
                }
                #expect(down.size == 2_000_000 && down.verification.isVerified)
                #expect(
                    received
                        == chunks.reduce(into: ByteBuffer()) { all, chunk in
                            var chunk = chunk
                            all.writeBuffer(&chunk)
                        }
                )
            }
        }
    }
}
