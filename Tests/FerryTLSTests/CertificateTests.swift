import FerryTLS
import Foundation
import Testing
import X509

@Suite("Server certificates")
struct CertificateTests {
    @Test("generate, write and load give the same certificate; the key file is 0600")
    func roundTrip() async throws {
        try await withTemporaryDirectory { directory in
            let generated = try ServerCertificate.generateSelfSigned()
            let certificatePath = directory + "/cert.pem"
            let keyPath = directory + "/key.pem"
            try generated.writePEM(certificatePath: certificatePath, keyPath: keyPath)

            let loaded = try ServerCertificate.loadPEM(certificatePath: certificatePath, keyPath: keyPath)
            #expect(loaded.sha256Fingerprint == generated.sha256Fingerprint)
            #expect(loaded.leafDER == generated.leafDER)
            #expect(loaded.privateKey.publicKey == generated.privateKey.publicKey)

            let keyMode = try #require(
                try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? Int
            )
            #expect(keyMode == 0o600)
            let certificateMode = try #require(
                try FileManager.default.attributesOfItem(atPath: certificatePath)[.posixPermissions] as? Int
            )
            #expect(certificateMode == 0o644)
            // No temporary files left behind.
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["cert.pem", "key.pem"])

            // Rewriting replaces the files (rename over them), keeping the modes.
            let other = try ServerCertificate.generateSelfSigned()
            try other.writePEM(certificatePath: certificatePath, keyPath: keyPath)
            let reloaded = try ServerCertificate.loadPEM(certificatePath: certificatePath, keyPath: keyPath)
            #expect(reloaded.sha256Fingerprint == other.sha256Fingerprint)
            #expect(try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? Int == 0o600)
        }
    }

    @Test("a generated certificate has the documented shape")
    func generatedShape() throws {
        let generated = try ServerCertificate.generateSelfSigned(
            commonName: "ftp.example.test",
            dnsNames: ["localhost", "ftp.example.test"],
            ipAddresses: ["127.0.0.1", "::1", "192.0.2.7"]
        )
        let leaf = generated.leaf
        #expect(leaf.subject == leaf.issuer)
        #expect(leaf.signatureAlgorithm == .ecdsaWithSHA256)
        #expect(generated.certificateChain.count == 1)

        let constraints = try #require(try leaf.extensions.basicConstraints)
        #expect(constraints == .isCertificateAuthority(maxPathLength: 0))
        let usage = try #require(try leaf.extensions.keyUsage)
        #expect(usage.digitalSignature && usage.keyCertSign)
        let extendedUsage = try #require(try leaf.extensions.extendedKeyUsage)
        #expect(extendedUsage.contains(.serverAuth))

        let names = try #require(try leaf.extensions.subjectAlternativeNames)
        #expect(names.contains(.dnsName("localhost")))
        #expect(names.contains(.dnsName("ftp.example.test")))
        let addresses = names.compactMap { name -> [UInt8]? in
            if case .ipAddress(let octets) = name { return Array(octets.bytes) }
            return nil
        }
        #expect(addresses.contains([127, 0, 0, 1]))
        #expect(addresses.contains([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]))
        #expect(addresses.contains([192, 0, 2, 7]))

        let years = leaf.notValidAfter.timeIntervalSince(leaf.notValidBefore) / (365.25 * 86_400)
        #expect(years > 9.9 && years < 10.1)
        #expect(leaf.notValidBefore < Date())

        let defaults = try ServerCertificate.generateSelfSigned()
        let defaultNames = try #require(try defaults.leaf.extensions.subjectAlternativeNames)
        #expect(defaultNames.contains(.dnsName("localhost")))
        #expect(defaultNames.count == 3)

        #expect(throws: TLSCertificateError.invalidIPAddress("999.1.1.1")) {
            try ServerCertificate.generateSelfSigned(ipAddresses: ["999.1.1.1"])
        }
    }

    @Test("the fingerprint equals what openssl prints", .enabled(if: opensslAvailable))
    func fingerprintMatchesOpenSSL() async throws {
        try await withTemporaryDirectory { directory in
            let generated = try ServerCertificate.generateSelfSigned()
            try generated.writePEM(certificatePath: directory + "/cert.pem", keyPath: directory + "/key.pem")
            let output = try await openssl([
                "x509", "-noout", "-fingerprint", "-sha256", "-in", directory + "/cert.pem",
            ])
            // "sha256 Fingerprint=AB:CD:…" (OpenSSL 3) or "SHA256 Fingerprint=…" (1.1).
            let printed = try #require(output.split(separator: "=", maxSplits: 1).last)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(printed == generated.sha256Fingerprint)
            #expect(generated.sha256Fingerprint.count == 95)
            #expect(ServerCertificate.normalizedFingerprint(output) == generated.sha256Fingerprint)
            #expect(
                ServerCertificate.normalizedFingerprint(
                    "sha256:" + generated.sha256Fingerprint.lowercased().replacingOccurrences(of: ":", with: "")
                ) == generated.sha256Fingerprint
            )
            #expect(ServerCertificate.normalizedFingerprint("AB:CD") == nil)

            // openssl also accepts the written key and certificate as a pair.
            let keyModulus = try await openssl(["pkey", "-in", directory + "/key.pem", "-pubout"])
            let certificateKey = try await openssl(["x509", "-in", directory + "/cert.pem", "-noout", "-pubkey"])
            #expect(keyModulus == certificateKey)
        }
    }

    @Test("loading reports missing files, garbage and mismatched keys, naming the file")
    func loadingErrors() async throws {
        try await withTemporaryDirectory { directory in
            let first = try ServerCertificate.generateSelfSigned()
            let second = try ServerCertificate.generateSelfSigned()
            try first.writePEM(certificatePath: directory + "/first.crt", keyPath: directory + "/first.key")
            try second.writePEM(certificatePath: directory + "/second.crt", keyPath: directory + "/second.key")

            #expect(throws: TLSCertificateError.fileNotFound(path: directory + "/missing.crt")) {
                try ServerCertificate.loadPEM(
                    certificatePath: directory + "/missing.crt",
                    keyPath: directory + "/first.key"
                )
            }
            #expect(throws: TLSCertificateError.fileNotFound(path: directory + "/missing.key")) {
                try ServerCertificate.loadPEM(
                    certificatePath: directory + "/first.crt",
                    keyPath: directory + "/missing.key"
                )
            }

            try Data("this is not a certificate\n".utf8).write(to: URL(fileURLWithPath: directory + "/garbage"))
            #expect(throws: TLSCertificateError.noCertificate(path: directory + "/garbage")) {
                try ServerCertificate.loadPEM(
                    certificatePath: directory + "/garbage",
                    keyPath: directory + "/first.key"
                )
            }
            #expect(throws: TLSCertificateError.noPrivateKey(path: directory + "/garbage")) {
                try ServerCertificate.loadPEM(
                    certificatePath: directory + "/first.crt",
                    keyPath: directory + "/garbage"
                )
            }
            // A key file given as the certificate, and a certificate given as the key.
            #expect(throws: TLSCertificateError.noCertificate(path: directory + "/first.key")) {
                try ServerCertificate.loadPEM(
                    certificatePath: directory + "/first.key",
                    keyPath: directory + "/first.key"
                )
            }
            #expect(throws: TLSCertificateError.noPrivateKey(path: directory + "/first.crt")) {
                try ServerCertificate.loadPEM(
                    certificatePath: directory + "/first.crt",
                    keyPath: directory + "/first.crt"
                )
            }

            // A CERTIFICATE block whose body is base64 but not a certificate.
            let bogus = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n"
            try Data(bogus.utf8).write(to: URL(fileURLWithPath: directory + "/bogus.crt"))
            let bogusError = #expect(throws: TLSCertificateError.self) {
                try ServerCertificate.loadPEM(
                    certificatePath: directory + "/bogus.crt",
                    keyPath: directory + "/first.key"
                )
            }
            guard case .invalidCertificate(let path, _) = bogusError else {
                Issue.record("unexpected \(String(describing: bogusError))")
                return
            }
            #expect(path == directory + "/bogus.crt")

            // Swapped keys.
            let mismatch = TLSCertificateError.keyDoesNotMatchCertificate(
                certificatePath: directory + "/first.crt",
                keyPath: directory + "/second.key"
            )
            #expect(throws: mismatch) {
                try ServerCertificate.loadPEM(
                    certificatePath: directory + "/first.crt",
                    keyPath: directory + "/second.key"
                )
            }
            #expect(mismatch.description.contains("second.key") && mismatch.description.contains("first.crt"))

            // A directory is not a file.
            #expect(throws: TLSCertificateError.fileUnreadable(path: directory, reason: "not a regular file")) {
                try ServerCertificate.loadPEM(certificatePath: directory, keyPath: directory + "/first.key")
            }
        }
    }

    @Test(
        "keys made by openssl: RSA and EC, PKCS#8 and traditional, chains; encrypted keys refused",
        .enabled(if: opensslAvailable)
    )
    func opensslKeys() async throws {
        try await withTemporaryDirectory { directory in
            func path(_ name: String) -> String { directory + "/" + name }

            // RSA, PKCS#8 key as written by `req -newkey`, then converted to the traditional form.
            try await openssl([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("rsa.key"), "-out", path("rsa.crt"),
                "-subj", "/CN=rsa.test", "-days", "2",
            ])
            try await openssl(["rsa", "-in", path("rsa.key"), "-traditional", "-out", path("rsa-traditional.key")])
            #expect(
                try String(contentsOfFile: path("rsa-traditional.key"), encoding: .utf8).contains(
                    "BEGIN RSA PRIVATE KEY"
                )
            )
            let rsa = try ServerCertificate.loadPEM(certificatePath: path("rsa.crt"), keyPath: path("rsa.key"))
            let rsaTraditional = try ServerCertificate.loadPEM(
                certificatePath: path("rsa.crt"),
                keyPath: path("rsa-traditional.key")
            )
            #expect(rsa.sha256Fingerprint == rsaTraditional.sha256Fingerprint)

            // EC: `ecparam -genkey` writes an EC PARAMETERS block before the SEC1 EC PRIVATE KEY block.
            try await openssl(["ecparam", "-name", "prime256v1", "-genkey", "-out", path("ec.key")])
            try await openssl([
                "req", "-x509", "-key", path("ec.key"), "-out", path("ec.crt"), "-subj", "/CN=ec.test", "-days", "2",
            ])
            _ = try ServerCertificate.loadPEM(certificatePath: path("ec.crt"), keyPath: path("ec.key"))

            // A chain: leaf signed by an intermediate CA; the file holds leaf then CA.
            try await openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path("leaf.key")])
            try await openssl([
                "req", "-new", "-key", path("leaf.key"), "-out", path("leaf.csr"), "-subj", "/CN=leaf.test",
            ])
            try await openssl([
                "x509", "-req", "-in", path("leaf.csr"), "-CA", path("ec.crt"), "-CAkey", path("ec.key"),
                "-CAcreateserial", "-out", path("leaf.crt"), "-days", "2",
            ])
            let chainText =
                try String(contentsOfFile: path("leaf.crt"), encoding: .utf8)
                + String(contentsOfFile: path("ec.crt"), encoding: .utf8)
            try Data(chainText.utf8).write(to: URL(fileURLWithPath: path("chain.crt")))
            let chained = try ServerCertificate.loadPEM(certificatePath: path("chain.crt"), keyPath: path("leaf.key"))
            #expect(chained.certificateChain.count == 2)
            #expect(chained.nioCertificateChain.count == 2)
            // The CA's key does not match the leaf.
            #expect(
                throws: TLSCertificateError.keyDoesNotMatchCertificate(
                    certificatePath: path("chain.crt"),
                    keyPath: path("ec.key")
                )
            ) {
                try ServerCertificate.loadPEM(certificatePath: path("chain.crt"), keyPath: path("ec.key"))
            }

            // Encrypted keys, PKCS#8 and traditional.
            try await openssl([
                "pkey", "-in", path("ec.key"), "-aes256", "-passout", "pass:secret", "-out", path("enc8.key"),
            ])
            #expect(throws: TLSCertificateError.encryptedPrivateKey(path: path("enc8.key"))) {
                try ServerCertificate.loadPEM(certificatePath: path("ec.crt"), keyPath: path("enc8.key"))
            }
            try await openssl([
                "rsa", "-in", path("rsa.key"), "-traditional", "-aes256", "-passout", "pass:secret", "-out",
                path("enc1.key"),
            ])
            #expect(throws: TLSCertificateError.encryptedPrivateKey(path: path("enc1.key"))) {
                try ServerCertificate.loadPEM(certificatePath: path("rsa.crt"), keyPath: path("enc1.key"))
            }

            // A TLS context builds from each.
            for certificate in [rsa, rsaTraditional, chained] {
                _ = try TLSContextProvider(certificate: certificate)
            }
        }
    }

    @Test("loadOrCreate generates once, then loads; a lone file is not overwritten")
    func loadOrCreate() async throws {
        try await withTemporaryDirectory { directory in
            let state = directory + "/state"
            let (first, created) = try ServerCertificate.loadOrCreate(in: state)
            #expect(created)
            let paths = ServerCertificate.defaultPaths(in: state)
            #expect(paths.certificatePath == state + "/tls/cert.pem")
            #expect(paths.keyPath == state + "/tls/key.pem")
            #expect(
                try FileManager.default.attributesOfItem(atPath: state + "/tls")[.posixPermissions] as? Int == 0o700
            )
            #expect(try FileManager.default.attributesOfItem(atPath: paths.keyPath)[.posixPermissions] as? Int == 0o600)

            let (second, createdAgain) = try ServerCertificate.loadOrCreate(in: state + "/")
            #expect(!createdAgain)
            #expect(second.sha256Fingerprint == first.sha256Fingerprint)

            try FileManager.default.removeItem(atPath: paths.keyPath)
            #expect(throws: TLSCertificateError.fileNotFound(path: paths.keyPath)) {
                try ServerCertificate.loadOrCreate(in: state)
            }
            #expect(FileManager.default.fileExists(atPath: paths.certificatePath))
        }
    }
}
