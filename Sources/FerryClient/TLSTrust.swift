import FerryTLS
import NIOSSL

/// How the client decides to trust a server's TLS certificate.
public enum TLSTrust: Sendable {
    /// The system's trust store; the host name (or IP) must match the certificate.
    case system
    /// These certificates (e.g. a self-signed server's own certificate, `--cacert`).
    case certificates([NIOSSLCertificate])
    /// Only a certificate with this SHA-256 fingerprint (OpenSSL colon form), whatever signed it.
    case pinned(String)
    /// Any certificate (`--insecure`): encryption without authentication.
    case insecure
}

/// Where TLS is used on the control connection.
public enum FTPSecurity: Sendable, Equatable {
    /// Plain FTP; credentials in clear.
    case none
    /// `AUTH TLS` on the normal port, then PBSZ 0 / PROT P (RFC 4217).
    case explicit
    /// TLS from the first byte (`ftps://`, usually port 990).
    case implicit
}
