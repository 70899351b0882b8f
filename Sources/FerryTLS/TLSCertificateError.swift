/// Why a certificate or private key could not be loaded, generated or written.
///
/// Every case names the file involved, so the message can be shown to an administrator as it is
/// (`description` is a complete sentence).
public enum TLSCertificateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file does not exist.
    case fileNotFound(path: String)
    /// The file exists but could not be read (permissions, a directory, too large…).
    case fileUnreadable(path: String, reason: String)
    /// The certificate file holds no PEM `CERTIFICATE` block.
    case noCertificate(path: String)
    /// A `CERTIFICATE` block could not be parsed as an X.509 certificate.
    case invalidCertificate(path: String, reason: String)
    /// The key file holds no PEM private key block (`PRIVATE KEY`, `EC PRIVATE KEY` or `RSA PRIVATE KEY`).
    case noPrivateKey(path: String)
    /// The key file holds a passphrase-protected key, which the server cannot use unattended.
    case encryptedPrivateKey(path: String)
    /// The private key block could not be parsed, or its algorithm is not supported.
    case invalidPrivateKey(path: String, reason: String)
    /// The private key is not the one that belongs to the first (leaf) certificate of the chain.
    case keyDoesNotMatchCertificate(certificatePath: String, keyPath: String)
    /// An IP address given for a subject alternative name is not a valid IPv4 or IPv6 literal.
    case invalidIPAddress(String)
    /// Creating the certificate failed.
    case generationFailed(reason: String)
    /// Writing a file (or creating its directory) failed.
    case writeFailed(path: String, reason: String)

    /// A message for an administrator, naming the file and the problem.
    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "TLS file \(path) does not exist"
        case .fileUnreadable(let path, let reason):
            return "TLS file \(path) cannot be read: \(reason)"
        case .noCertificate(let path):
            return "\(path) contains no PEM certificate (expected a '-----BEGIN CERTIFICATE-----' block)"
        case .invalidCertificate(let path, let reason):
            return "\(path) contains a certificate that cannot be parsed: \(reason)"
        case .noPrivateKey(let path):
            return
                "\(path) contains no PEM private key (expected a 'PRIVATE KEY', 'EC PRIVATE KEY' or 'RSA PRIVATE KEY' block)"
        case .encryptedPrivateKey(let path):
            return "\(path) contains an encrypted private key; decrypt it first (openssl pkey -in KEY -out KEY.plain)"
        case .invalidPrivateKey(let path, let reason):
            return "\(path) contains a private key that cannot be used: \(reason)"
        case .keyDoesNotMatchCertificate(let certificatePath, let keyPath):
            return "the private key in \(keyPath) does not match the first certificate in \(certificatePath)"
        case .invalidIPAddress(let address):
            return "'\(address)' is not a valid IPv4 or IPv6 address"
        case .generationFailed(let reason):
            return "cannot generate a self-signed certificate: \(reason)"
        case .writeFailed(let path, let reason):
            return "cannot write \(path): \(reason)"
        }
    }
}
