import FerryTestSupport
import Foundation
import Testing

/// FTPS (RFC 4217): explicit AUTH TLS and implicit, with Python's ftplib.FTP_TLS, curl, lftp and openssl.
@Suite("FTPS")
struct FTPSTests {
    @Test(
        "explicit FTPS with ftplib: PROT P transfers, active mode, resume, ABOR, refusals",
        arguments: ["ftps_explicit", "ftps_abort_and_integrity"]
    )
    func explicit(_ scenario: String) async throws {
        try await withServer { server in try await runFtplib(scenario, server) }
    }

    @Test("implicit FTPS, and garbage or a truncated handshake on its port ends only that connection")
    func implicit() async throws {
        try await withServer(configure: { $0.implicitTLSPort = 0 }) { server in
            try await runFtplib("ftps_implicit", server, extra: ["implicit": String(server.implicitTLSPort!)])
        }
    }

    @Test("policy: TLS required for clients that are not local (injected), and PROT P required for data")
    func policies() async throws {
        try await withServer(configure: { $0.isLocal = { _ in false } }) { server in
            try await runFtplib("tls_required", server)
        }
        try await withServer(configure: { $0.tlsData = .required }) { server in
            try await runFtplib("tls_data_required", server)
        }
    }

    @Test("curl: --ssl-reqd (explicit) and ftps:// (implicit) against the generated certificate")
    func curlTLS() async throws {
        try await withServer(configure: { $0.implicitTLSPort = 0 }) { server in
            let certificate = server.dataDirectory + "/tls/cert.pem"
            let payload = Data((0..<2_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            let up = try await curl(
                [
                    "--ssl-reqd", "--cacert", certificate, "--user", "alice:alice-secret", "-T", "-",
                    "ftp://localhost:\(server.port)/c.bin",
                ],
                stdin: payload
            )
            #expect(up.status == 0, "\(up.stderr)")
            let down = try await curl(
                [
                    "--cacert", certificate, "--user", "alice:alice-secret",
                    "ftps://localhost:\(server.implicitTLSPort!)/c.bin",
                ]
            )
            #expect(down.status == 0, "\(down.stderr)")
            #expect(Data(down.stdout.utf8).count > 0)
            let onDisk = try Data(contentsOf: URL(fileURLWithPath: server.home("alice") + "/c.bin"))
            #expect(onDisk == payload)
            // Without trusting the certificate, curl refuses (exit 60: peer certificate cannot be authenticated).
            let untrusted = try await curl([
                "--ssl-reqd", "--user", "alice:alice-secret", "ftp://localhost:\(server.port)/",
            ])
            #expect(untrusted.status == 60, "\(untrusted.status) \(untrusted.stderr)")
        }
    }

    @Test("the fingerprint the server reports is the one it serves (openssl s_client -starttls ftp)")
    func fingerprint() async throws {
        try await withServer { server in
            let served = try await runProcess(
                "sh",
                [
                    "-c",
                    "openssl s_client -starttls ftp -connect 127.0.0.1:\(server.port) </dev/null 2>/dev/null"
                        + " | openssl x509 -noout -fingerprint -sha256",
                ]
            )
            let expected = try #require(server.fingerprint)
            #expect(
                served.stdout.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("=" + expected),
                "\(served.stdout)"
            )
        }
    }

    @Test("lftp with ssl:verify-certificate no", .enabled(if: isInstalled("lftp"), "lftp is not installed"))
    func lftpTLS() async throws {
        try await withServer { server in
            let script = [
                "set ssl:verify-certificate no", "set ftp:ssl-force true", "set ftp:ssl-protect-data true",
                "set net:max-retries 1", "set net:timeout 20", "set cmd:fail-exit yes",
                "open -u alice,alice-secret -p \(server.port) \(server.host)",
                "put /etc/hostname -o h.txt", "mkdir d", "mv h.txt d/h.txt", "cls -1 d",
            ].joined(separator: "; ")
            let result = try await runProcess("lftp", ["-c", script])
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("h.txt"))
            let hostname = try Data(contentsOf: URL(fileURLWithPath: "/etc/hostname"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: server.home("alice") + "/d/h.txt")) == hostname)
        }
    }
}
