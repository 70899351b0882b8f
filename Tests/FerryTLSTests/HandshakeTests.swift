import FerryTLS
import FerryTestSupport
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Testing

// The limit catches a hung handshake, not a slow one: in a full run the openssl test's five client processes share
// two cores with some 450 other tests and took 30-85 s.
@Suite("TLS handshakes over loopback", .timeLimit(.minutes(3)))
struct HandshakeTests {
    /// Starts an echo server on a fresh self-signed certificate, runs `body`, stops the server.
    func withServer(
        certificate: ServerCertificate? = nil,
        _ body: (ServerCertificate, TLSContextProvider, EchoServer) async throws -> Void
    ) async throws {
        let certificate = try certificate ?? ServerCertificate.generateSelfSigned()
        let provider = try TLSContextProvider(certificate: certificate)
        let server = try await EchoServer.start(provider: provider)
        do {
            try await body(certificate, provider, server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test("TLS 1.3 with a verifying client that trusts the generated certificate")
    func tls13() async throws {
        try await self.withServer { certificate, _, server in
            let context = try TLSContextProvider.clientContext(
                trustRoots: certificate.nioCertificateChain,
                verify: true
            )
            let client = try await TestClient.connect(port: server.port, context: context)
            let info = try await client.handshakeInfo()
            #expect(info.tlsVersion == .tlsv13)
            #expect(info.fingerprint == certificate.sha256Fingerprint)
            #expect(info.peerCertificateDER == certificate.leafDER)
            #expect(try await client.echo("hello over TLS 1.3\r\n") == "hello over TLS 1.3\r\n")
            let later = try await TLSPeerInfo.current(of: client.channel)
            #expect(later.tlsVersion == .tlsv13)
            await client.close()
        }
    }

    @Test("TLS 1.2 forced on the client negotiates TLS 1.2 with an ECDHE AEAD suite")
    func tls12() async throws {
        try await self.withServer { certificate, _, server in
            let context = try TLSContextProvider.clientContext(
                trustRoots: certificate.nioCertificateChain,
                verify: true,
                maximumVersion: .tlsv12
            )
            let client = try await TestClient.connect(port: server.port, context: context)
            let info = try await client.handshakeInfo()
            #expect(info.tlsVersion == .tlsv12)
            #expect(info.fingerprint == certificate.sha256Fingerprint)
            #expect(try await client.echo("PBSZ 0\r\n") == "PBSZ 0\r\n")
            await client.close()
        }
    }

    @Test("host verification: the name must be a DNS SAN, or the connected address an IP SAN")
    func hostVerification() async throws {
        // NIOSSL accepts a certificate when the host name matches a DNS SAN *or* the remote address matches an IP
        // SAN, so the generated default (which has 127.0.0.1) would accept any name here. Use a DNS-only one.
        let dnsOnly = try ServerCertificate.generateSelfSigned(dnsNames: ["localhost"], ipAddresses: [])
        try await self.withServer(certificate: dnsOnly) { certificate, _, server in
            let context = try TLSContextProvider.clientContext(
                trustRoots: certificate.nioCertificateChain,
                verify: true
            )
            let byName = try await TestClient.connect(port: server.port, context: context, host: "localhost")
            #expect(try await byName.handshakeInfo().fingerprint == certificate.sha256Fingerprint)
            await byName.close()

            for host in ["ftp.example.test", "127.0.0.1"] {
                let wrong = try await TestClient.connect(port: server.port, context: context, host: host)
                await #expect(throws: (any Error).self, "\(host) must not verify") { try await wrong.handshakeInfo() }
                await wrong.close()
            }
        }
    }

    @Test("a client that only offers TLS 1.1 is refused")
    func tls11Refused() async throws {
        try await self.withServer { certificate, _, server in
            let context = try TLSContextProvider.clientContext(
                trustRoots: certificate.nioCertificateChain,
                verify: true,
                minimumVersion: .tlsv1,
                maximumVersion: .tlsv11
            )
            let client = try await TestClient.connect(port: server.port, context: context)
            let error = await #expect(throws: NIOSSLError.self) { try await client.handshakeInfo() }
            guard case .handshakeFailed? = error else {
                Issue.record("expected handshakeFailed, got \(String(describing: error))")
                await client.close()
                return
            }
            await client.close()
        }
    }

    @Test("a verifying client that does not trust the certificate fails; --insecure connects and sees the fingerprint")
    func untrustedAndInsecure() async throws {
        try await self.withServer { certificate, _, server in
            let stranger = try ServerCertificate.generateSelfSigned()
            let strict = try TLSContextProvider.clientContext(trustRoots: stranger.nioCertificateChain, verify: true)
            let refused = try await TestClient.connect(port: server.port, context: strict)
            await #expect(throws: NIOSSLError.self) { try await refused.handshakeInfo() }
            await refused.close()

            let insecure = try TLSContextProvider.clientContext(trustRoots: nil, verify: false)
            let client = try await TestClient.connect(port: server.port, context: insecure)
            let info = try await client.handshakeInfo()
            #expect(info.fingerprint == certificate.sha256Fingerprint)
            #expect(try await client.echo("x") == "x")
            await client.close()
        }
    }

    @Test("reload: new handshakes see the new certificate, an open connection keeps working")
    func reload() async throws {
        try await self.withServer { first, provider, server in
            let second = try ServerCertificate.generateSelfSigned()
            let context = try TLSContextProvider.clientContext(
                trustRoots: first.nioCertificateChain + second.nioCertificateChain,
                verify: true
            )

            let before = try await TestClient.connect(port: server.port, context: context)
            #expect(try await before.handshakeInfo().fingerprint == first.sha256Fingerprint)
            #expect(try await before.echo("one") == "one")

            let oldContext = provider.context
            try provider.reload(from: second)
            #expect(provider.certificate.sha256Fingerprint == second.sha256Fingerprint)
            #expect(provider.context !== oldContext)

            let after = try await TestClient.connect(port: server.port, context: context)
            #expect(try await after.handshakeInfo().fingerprint == second.sha256Fingerprint)
            #expect(try await after.echo("two") == "two")

            // The connection opened before the reload still works, on the old certificate.
            #expect(try await before.echo("three") == "three")
            #expect(try await TLSPeerInfo.current(of: before.channel).fingerprint == first.sha256Fingerprint)

            await before.close()
            await after.close()
        }
    }

    @Test(
        "openssl s_client: CBC and RSA key exchange suites are refused, an AEAD suite is chosen",
        .enabled(if: opensslAvailable)
    )
    func opensslCipherSuites() async throws {
        try await self.withServer { _, _, server in
            let target = "127.0.0.1:\(server.port)"
            for cipher in ["AES128-SHA", "AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384"] {
                let result = try await runProcess(
                    "openssl",
                    ["s_client", "-connect", target, "-tls1_2", "-cipher", cipher]
                )
                #expect(!result.timedOut)
                #expect(result.status != 0, "cipher \(cipher) was accepted: \(result.stdout)")
            }

            let accepted = try await runProcess("openssl", ["s_client", "-connect", target, "-tls1_2"])
            #expect(accepted.status == 0 && !accepted.timedOut, "\(accepted.stderr)")
            #expect(accepted.stdout.contains("Protocol  : TLSv1.2"))
            let cipherLine = accepted.stdout.split(separator: "\n").first { $0.contains("Cipher    :") } ?? ""
            #expect(cipherLine.contains("ECDHE-ECDSA-"), "\(cipherLine)")
            #expect(cipherLine.contains("-GCM-") || cipherLine.contains("CHACHA20"), "\(cipherLine)")
        }
    }
}
