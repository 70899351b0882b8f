import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// The protocol versions and cipher suites of Ferry's TLS server contexts.
public struct TLSSettings: Sendable, Equatable {
    /// The lowest protocol version accepted. Default TLS 1.2.
    public var minimumVersion: TLSVersion
    /// The highest protocol version offered. Default TLS 1.3.
    public var maximumVersion: TLSVersion
    /// The TLS 1.2 cipher suites, in order of preference. TLS 1.3 suites are not configurable in BoringSSL
    /// (all three are AEAD: AES-128-GCM, AES-256-GCM, CHACHA20-POLY1305).
    public var tls12CipherSuites: [NIOTLSCipher]

    /// ECDHE key exchange with an AEAD cipher only: no CBC, no static-RSA key exchange, no SHA-1 MACs.
    /// ECDSA and RSA authentication are both listed, so the same settings serve a P-256 or an RSA certificate.
    public static let modernTLS12CipherSuites: [NIOTLSCipher] = [
        .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]

    /// Creates settings; the defaults are TLS 1.2 to 1.3 with ``modernTLS12CipherSuites``.
    public init(
        minimumVersion: TLSVersion = .tlsv12,
        maximumVersion: TLSVersion = .tlsv13,
        tls12CipherSuites: [NIOTLSCipher] = TLSSettings.modernTLS12CipherSuites
    ) {
        self.minimumVersion = minimumVersion
        self.maximumVersion = maximumVersion
        self.tls12CipherSuites = tls12CipherSuites
    }

    /// The NIOSSL server configuration for `certificate` with these settings. Client certificates are not requested.
    public func makeServerConfiguration(certificate: ServerCertificate) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificate.certificateChainSources,
            privateKey: certificate.privateKeySource
        )
        configuration.minimumTLSVersion = self.minimumVersion
        configuration.maximumTLSVersion = self.maximumVersion
        configuration.cipherSuiteValues = self.tls12CipherSuites
        configuration.certificateVerification = .none
        return configuration
    }
}

/// Owns the server's current `NIOSSLContext` and swaps it when the certificate is reloaded (SIGHUP).
///
/// Use one provider (and so one context) for the control and the data listeners: TLS session resumption
/// (tickets and the session cache) only works between connections made from the same `NIOSSLContext`
/// (see ``TLSSessionResumption``). A session should take ``context`` once, when its control connection
/// starts TLS (AUTH TLS, or accept on the implicit port), and use that same context for all its data
/// connections, so that a reload in the middle of a session does not break resumption of its data channels.
public final class TLSContextProvider: Sendable {
    private struct State {
        var certificate: ServerCertificate
        var context: NIOSSLContext
    }

    /// The protocol settings every context of this provider is built with.
    public let settings: TLSSettings
    private let state: NIOLockedValueBox<State>
    private let logger: Logger?

    /// Builds the first context.
    ///
    /// Creating a `NIOSSLContext` does blocking work (key parsing, BoringSSL setup): call this, and ``reload(from:)``,
    /// off the event loops.
    public init(certificate: ServerCertificate, settings: TLSSettings = TLSSettings(), logger: Logger? = nil) throws {
        let context = try NIOSSLContext(configuration: settings.makeServerConfiguration(certificate: certificate))
        self.settings = settings
        self.state = NIOLockedValueBox(State(certificate: certificate, context: context))
        self.logger = logger
    }

    /// The current context. Connections keep the context they were created with; only handshakes that start
    /// after a ``reload(from:)`` use the new one.
    public var context: NIOSSLContext {
        self.state.withLockedValue { $0.context }
    }

    /// The certificate of the current context.
    public var certificate: ServerCertificate {
        self.state.withLockedValue { $0.certificate }
    }

    /// Builds a context for `certificate` and makes it current, atomically. If building fails, the current
    /// context stays and the error is thrown. Running TLS connections are not affected.
    ///
    /// This is what a SIGHUP reload calls (after ``ServerCertificate/loadPEM(certificatePath:keyPath:)``). Call it
    /// off the event loops. Sessions cannot be resumed across a reload (the new context has new ticket keys and
    /// an empty session cache): the next connection of each client does a full handshake.
    public func reload(from certificate: ServerCertificate) throws {
        let context = try NIOSSLContext(configuration: self.settings.makeServerConfiguration(certificate: certificate))
        let previous = self.state.withLockedValue { state -> String in
            let previous = state.certificate.sha256Fingerprint
            state = State(certificate: certificate, context: context)
            return previous
        }
        self.logger?.info(
            "TLS certificate reloaded",
            metadata: [
                "tls.fingerprint.old": "\(previous)",
                "tls.fingerprint.new": "\(certificate.sha256Fingerprint)",
            ]
        )
    }

    /// A new server handler on the current context.
    ///
    /// `NIOSSLServerHandler` is not `Sendable`: create it on the channel's event loop and add it with
    /// `channel.pipeline.syncOperations.addHandler(_:position: .first)` (in a `childChannelInitializer`, or
    /// inside `channel.eventLoop.submit { … }` for AUTH TLS, right after writing the 234 reply).
    /// For data connections of a session, prefer `NIOSSLServerHandler(context: sessionContext)` with the
    /// context the session took at AUTH TLS.
    public func makeServerHandler() -> NIOSSLServerHandler {
        NIOSSLServerHandler(context: self.context)
    }
}

// MARK: - Client side

extension TLSContextProvider {
    /// A client context for the `ferry` client (or tests).
    ///
    /// - Parameters:
    ///   - trustRoots: the certificates to trust (for instance a server's self-signed certificate, which is its own
    ///     root); `nil` uses the system's trust store.
    ///   - verify: `false` disables certificate verification completely (for `--insecure`, and for trust-on-first-use
    ///     where the caller compares ``TLSPeerInfo/fingerprint`` with a pinned value before sending anything).
    ///     `true` verifies the chain and the peer's identity. NIOSSL accepts the identity when the host name given to
    ///     ``makeClientHandler(context:host:)`` matches a DNS SAN **or** the connected remote address matches an IP SAN
    ///     (either is enough: a certificate with an IP SAN for the address dialled passes whatever the name).
    ///   - minimumVersion: lowest version offered; default TLS 1.2.
    ///   - maximumVersion: highest version offered; default TLS 1.3.
    ///
    /// Build it once and reuse it: creating a context may read the system trust store (blocking I/O).
    /// NIOSSL has no client-side session reuse, see ``TLSSessionResumption``.
    public static func clientContext(
        trustRoots: [NIOSSLCertificate]?,
        verify: Bool,
        minimumVersion: TLSVersion = .tlsv12,
        maximumVersion: TLSVersion = .tlsv13
    ) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = minimumVersion
        configuration.maximumTLSVersion = maximumVersion
        if verify {
            configuration.certificateVerification = .fullVerification
            configuration.trustRoots = trustRoots.map { .certificates($0) } ?? .default
        } else {
            configuration.certificateVerification = .none
        }
        return try NIOSSLContext(configuration: configuration)
    }

    /// A client handler for connecting to `host`. An IP literal is not sent as SNI (TLS forbids it, NIOSSL throws);
    /// verification then checks the IP address SANs against the channel's remote address instead.
    /// Create it on the channel's event loop (the handler is not `Sendable`).
    public static func makeClientHandler(context: NIOSSLContext, host: String) throws -> NIOSSLClientHandler {
        var bare = Substring(host)
        if bare.hasPrefix("["), bare.hasSuffix("]") { bare = bare.dropFirst().dropLast() }
        let isIPLiteral = TLSFileIO.ipAddressBytes(String(bare)) != nil
        return try NIOSSLClientHandler(context: context, serverHostname: isIPLiteral ? nil : String(bare))
    }
}
