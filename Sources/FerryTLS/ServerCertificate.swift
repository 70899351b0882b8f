import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// A TLS server identity: a certificate chain (leaf first, then intermediates) and the leaf's private key.
///
/// Values are immutable and `Sendable`; a loaded or generated certificate has been checked: every certificate
/// parses, the key parses, and the key's public key is the leaf's public key. The NIOSSL forms that a
/// `TLSConfiguration` needs are built once, when the value is created.
public struct ServerCertificate: Sendable {
    /// The chain as parsed X.509 certificates, leaf first.
    public let certificateChain: [Certificate]
    /// The DER encoding of each certificate in ``certificateChain``.
    public let certificateChainDER: [[UInt8]]
    /// The leaf's private key.
    public let privateKey: Certificate.PrivateKey
    /// The chain for NIOSSL, leaf first.
    public let nioCertificateChain: [NIOSSLCertificate]
    /// The private key for NIOSSL.
    public let nioPrivateKey: NIOSSLPrivateKey
    /// The SHA-256 fingerprint of the leaf's DER, as `openssl x509 -noout -fingerprint -sha256` prints it:
    /// uppercase hexadecimal byte pairs separated by `:` (95 characters).
    public let sha256Fingerprint: String

    /// The private key as the PEM block it was read from (or generated as).
    let privateKeyDocument: PEMDocument

    /// The leaf (server) certificate.
    public var leaf: Certificate { self.certificateChain[0] }

    /// The DER encoding of the leaf certificate.
    public var leafDER: [UInt8] { self.certificateChainDER[0] }

    /// The chain as `TLSConfiguration.certificateChain` takes it.
    public var certificateChainSources: [NIOSSLCertificateSource] {
        self.nioCertificateChain.map { .certificate($0) }
    }

    /// The key as `TLSConfiguration.privateKey` takes it.
    public var privateKeySource: NIOSSLPrivateKeySource { .privateKey(self.nioPrivateKey) }

    /// The whole chain as PEM, leaf first, one `CERTIFICATE` block each, ending with a newline.
    public var certificateChainPEM: String {
        self.certificateChainDER.map { PEMDocument(type: "CERTIFICATE", derBytes: $0).pemString + "\n" }.joined()
    }

    /// The private key as PEM, ending with a newline. Secret: never log it.
    public var privateKeyPEM: String { self.privateKeyDocument.pemString + "\n" }

    /// Builds and checks a certificate from DER certificates and a PEM key block. The paths are only used in errors.
    init(
        chainDER: [[UInt8]],
        keyDocument: PEMDocument,
        certificatePath: String,
        keyPath: String
    ) throws(TLSCertificateError) {
        guard !chainDER.isEmpty else { throw .noCertificate(path: certificatePath) }

        var chain: [Certificate] = []
        var nioChain: [NIOSSLCertificate] = []
        for (index, der) in chainDER.enumerated() {
            do {
                chain.append(try Certificate(derEncoded: der))
                nioChain.append(try NIOSSLCertificate(bytes: der, format: .der))
            } catch {
                throw .invalidCertificate(path: certificatePath, reason: "certificate #\(index + 1): \(error)")
            }
        }

        let key: Certificate.PrivateKey
        do {
            key = try Certificate.PrivateKey(pemDocument: keyDocument)
        } catch {
            throw .invalidPrivateKey(path: keyPath, reason: "\(error)")
        }
        guard key.publicKey == chain[0].publicKey else {
            throw .keyDoesNotMatchCertificate(certificatePath: certificatePath, keyPath: keyPath)
        }
        let nioKey: NIOSSLPrivateKey
        do {
            nioKey = try NIOSSLPrivateKey(bytes: Array(keyDocument.pemString.utf8), format: .pem)
        } catch {
            throw .invalidPrivateKey(path: keyPath, reason: "rejected by BoringSSL: \(error)")
        }

        self.certificateChain = chain
        self.certificateChainDER = chainDER
        self.privateKey = key
        self.privateKeyDocument = keyDocument
        self.nioCertificateChain = nioChain
        self.nioPrivateKey = nioKey
        self.sha256Fingerprint = Self.fingerprint(ofDER: chainDER[0])
    }

    /// The SHA-256 fingerprint of a DER-encoded certificate, formatted as OpenSSL prints it
    /// (`AB:CD:…`, uppercase, 32 pairs). A client can pin a server with it (trust on first use).
    public static func fingerprint(ofDER der: some Sequence<UInt8>) -> String {
        let digest = SHA256.hash(data: Array(der))
        let hex: [Character] = Array("0123456789ABCDEF")
        var result = ""
        result.reserveCapacity(95)
        for (index, byte) in digest.enumerated() {
            if index > 0 { result.append(":") }
            result.append(hex[Int(byte >> 4)])
            result.append(hex[Int(byte & 0x0F)])
        }
        return result
    }

    /// Normalises a fingerprint typed by a person or stored by a client (any case, with or without `:`,
    /// optionally prefixed with `sha256:` or `SHA256 Fingerprint=`) to the ``sha256Fingerprint`` form,
    /// or returns `nil` if it is not 32 hexadecimal bytes.
    public static func normalizedFingerprint(_ text: String) -> String? {
        var body = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        if let equals = body.lastIndex(of: "=") {
            body = body[body.index(after: equals)...]
        }
        if body.lowercased().hasPrefix("sha256:") {
            body = body.dropFirst("sha256:".count)
        }
        let digits = body.filter { $0 != ":" }.uppercased()
        guard digits.count == 64, digits.allSatisfy({ $0.isHexDigit }) else { return nil }
        var result = ""
        for (index, character) in digits.enumerated() {
            if index > 0, index % 2 == 0 { result.append(":") }
            result.append(character)
        }
        return result
    }
}

// MARK: - Loading

extension ServerCertificate {
    /// Loads a PEM certificate chain (leaf first, intermediates after) and its PEM private key.
    ///
    /// The key may be EC (P-256/P-384/P-521), RSA or Ed25519, as PKCS#8 (`PRIVATE KEY`) or in the traditional
    /// forms (`EC PRIVATE KEY`, `RSA PRIVATE KEY`); other blocks in the files (such as `EC PARAMETERS`) are
    /// skipped. Encrypted keys are refused. Both files may be the same file.
    ///
    /// - Throws: ``TLSCertificateError`` naming the file and the problem: missing or unreadable file, no
    ///   certificate, unparsable certificate, no key, encrypted key, or a key that does not belong to the leaf.
    public static func loadPEM(
        certificatePath: String,
        keyPath: String
    ) throws(TLSCertificateError) -> ServerCertificate {
        let certificateText = String(decoding: try TLSFileIO.read(path: certificatePath), as: UTF8.self)
        let keyText = String(decoding: try TLSFileIO.read(path: keyPath), as: UTF8.self)

        let certificateDocuments: [PEMDocument]
        do {
            certificateDocuments = try PEMDocument.parseMultiple(pemString: certificateText)
        } catch {
            throw .invalidCertificate(path: certificatePath, reason: "malformed PEM: \(error)")
        }
        let chainDER = certificateDocuments.filter { $0.discriminator == "CERTIFICATE" }.map(\.derBytes)
        guard !chainDER.isEmpty else { throw .noCertificate(path: certificatePath) }

        if keyText.contains("ENCRYPTED PRIVATE KEY") || keyText.contains("Proc-Type: 4,ENCRYPTED") {
            throw .encryptedPrivateKey(path: keyPath)
        }
        let keyDocuments: [PEMDocument]
        do {
            keyDocuments = try PEMDocument.parseMultiple(pemString: keyText)
        } catch {
            throw .invalidPrivateKey(path: keyPath, reason: "malformed PEM: \(error)")
        }
        let keyTypes: Set<String> = ["PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"]
        let candidates = keyDocuments.filter { keyTypes.contains($0.discriminator) }
        guard let keyDocument = candidates.first else { throw .noPrivateKey(path: keyPath) }
        guard candidates.count == 1 else {
            throw .invalidPrivateKey(path: keyPath, reason: "the file holds \(candidates.count) private keys")
        }

        return try ServerCertificate(
            chainDER: chainDER,
            keyDocument: keyDocument,
            certificatePath: certificatePath,
            keyPath: keyPath
        )
    }

    /// Loads `<directory>/tls/cert.pem` and `<directory>/tls/key.pem`, or, if neither exists, generates a
    /// self-signed certificate (see ``generateSelfSigned(commonName:dnsNames:ipAddresses:validityDays:)``),
    /// writes it there (the `tls` directory is created with mode 0700, the key with 0600) and returns it.
    ///
    /// If only one of the two files exists, nothing is generated (that would overwrite an administrator's
    /// file) and the missing one is reported.
    ///
    /// - Returns: the certificate, and `created: true` if it was generated by this call.
    public static func loadOrCreate(
        in directory: String,
        commonName: String = ServerCertificate.defaultCommonName,
        dnsNames: [String] = ServerCertificate.defaultDNSNames,
        ipAddresses: [String] = ServerCertificate.defaultIPAddresses
    ) throws(TLSCertificateError) -> (certificate: ServerCertificate, created: Bool) {
        let paths = self.defaultPaths(in: directory)
        let certificateExists = TLSFileIO.exists(path: paths.certificatePath)
        let keyExists = TLSFileIO.exists(path: paths.keyPath)
        if certificateExists || keyExists {
            return (try self.loadPEM(certificatePath: paths.certificatePath, keyPath: paths.keyPath), false)
        }
        let generated = try self.generateSelfSigned(
            commonName: commonName,
            dnsNames: dnsNames,
            ipAddresses: ipAddresses
        )
        try TLSFileIO.createDirectory(path: TLSFileIO.parentDirectory(of: paths.certificatePath), mode: 0o700)
        try generated.writePEM(certificatePath: paths.certificatePath, keyPath: paths.keyPath)
        return (generated, true)
    }

    /// Where ``loadOrCreate(in:commonName:dnsNames:ipAddresses:)`` keeps the files: `<directory>/tls/cert.pem`
    /// and `<directory>/tls/key.pem`.
    public static func defaultPaths(in directory: String) -> (certificatePath: String, keyPath: String) {
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        return ("\(base)/tls/cert.pem", "\(base)/tls/key.pem")
    }
}

// MARK: - Writing

extension ServerCertificate {
    /// Writes the chain (mode 0644) and the key (mode 0600) as PEM. Each file is replaced atomically: written to
    /// a temporary file in the same directory (created with its final mode, so the key is never readable by
    /// others, even briefly), flushed to disk, then renamed over the target. The directories must exist.
    public func writePEM(certificatePath: String, keyPath: String) throws(TLSCertificateError) {
        try TLSFileIO.writeAtomically(Array(self.privateKeyPEM.utf8), to: keyPath, mode: 0o600)
        try TLSFileIO.writeAtomically(Array(self.certificateChainPEM.utf8), to: certificatePath, mode: 0o644)
    }
}

// MARK: - Self-signed generation

extension ServerCertificate {
    /// The default common name of a generated certificate.
    public static let defaultCommonName = "Ferry FTPS server"
    /// The default DNS subject alternative names of a generated certificate.
    public static let defaultDNSNames = ["localhost"]
    /// The default IP subject alternative names of a generated certificate.
    public static let defaultIPAddresses = ["127.0.0.1", "::1"]
    /// The default validity of a generated certificate: 10 years.
    public static let defaultValidityDays = 3650

    /// Generates a self-signed P-256 certificate and key.
    ///
    /// The certificate is valid from one hour ago (clock skew) for `validityDays`, signed with ECDSA-SHA256,
    /// has a random 20-byte serial number, the serverAuth extended key usage, subject alternative names for
    /// `dnsNames` and `ipAddresses`, subject and authority key identifiers, and is marked as a CA (`BasicConstraints` CA:true, pathlen 0, critical;
    /// `KeyUsage` digitalSignature + keyCertSign, critical) so that clients can use it as its own trust root:
    /// BoringSSL rejects a self-signed non-CA leaf used as a trust anchor.
    ///
    /// - Throws: ``TLSCertificateError/invalidIPAddress(_:)`` for an address that is not an IP literal,
    ///   ``TLSCertificateError/generationFailed(reason:)`` otherwise.
    public static func generateSelfSigned(
        commonName: String = ServerCertificate.defaultCommonName,
        dnsNames: [String] = ServerCertificate.defaultDNSNames,
        ipAddresses: [String] = ServerCertificate.defaultIPAddresses,
        validityDays: Int = ServerCertificate.defaultValidityDays
    ) throws(TLSCertificateError) -> ServerCertificate {
        guard validityDays > 0 else { throw .generationFailed(reason: "validity must be at least one day") }
        var alternativeNames = dnsNames.map { GeneralName.dnsName($0) }
        for address in ipAddresses {
            guard let bytes = TLSFileIO.ipAddressBytes(address) else { throw .invalidIPAddress(address) }
            alternativeNames.append(.ipAddress(ASN1OctetString(contentBytes: bytes[...])))
        }

        let key = P256.Signing.PrivateKey()
        let certificateKey = Certificate.PrivateKey(key)
        let publicKey = Certificate.PublicKey(key.publicKey)
        let subjectKeyIdentifier = SubjectKeyIdentifier(hash: publicKey)
        let now = Date()
        let der: [UInt8]
        do {
            let name = try DistinguishedName { CommonName(commonName) }
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
                try ExtendedKeyUsage([.serverAuth])
                subjectKeyIdentifier
                // Lets a verifier that trusts several Ferry certificates (same subject name) pick the right one.
                AuthorityKeyIdentifier(keyIdentifier: subjectKeyIdentifier.keyIdentifier)
                if !alternativeNames.isEmpty {
                    SubjectAlternativeNames(alternativeNames)
                }
            }
            let certificate = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: publicKey,
                notValidBefore: now.addingTimeInterval(-3600),
                notValidAfter: now.addingTimeInterval(Double(validityDays) * 86_400),
                issuer: name,
                subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: extensions,
                issuerPrivateKey: certificateKey
            )
            var serializer = DER.Serializer()
            try serializer.serialize(certificate)
            der = serializer.serializedBytes
        } catch {
            throw .generationFailed(reason: "\(error)")
        }

        let keyDocument: PEMDocument
        do {
            keyDocument = try PEMDocument(pemString: key.pemRepresentation)
        } catch {
            throw .generationFailed(reason: "cannot encode the key: \(error)")
        }
        return try ServerCertificate(
            chainDER: [der],
            keyDocument: keyDocument,
            certificatePath: "<generated certificate>",
            keyPath: "<generated key>"
        )
    }
}
