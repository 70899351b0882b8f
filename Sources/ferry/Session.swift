import ArgumentParser
import FerryCLI
import FerryClient
import FerryTLS
import Foundation
import NIOSSL

#if canImport(Glibc)
    import Glibc
#endif

/// Options every command that talks to a server takes.
struct ConnectionOptions: ParsableArguments {
    @Flag(name: .long, help: "Accept any certificate (encryption without authentication).")
    var insecure = false

    @Option(name: .long, help: "Trust the certificates in this PEM file (e.g. a self-signed server's cert.pem).")
    var cacert: String?

    @Option(
        name: .customLong("accept-fingerprint"),
        help: "Trust and remember this SHA-256 fingerprint for the host (scripted trust on first use)."
    )
    var acceptFingerprint: String?

    @Flag(name: .long, help: "Plain FTP: no TLS, the password travels in clear.")
    var plain = false

    @Flag(name: .customLong("password-stdin"), help: "Read the password from the first line of standard input.")
    var passwordStdin = false

    @Flag(name: .long, help: "Active mode (the server connects back) instead of passive.")
    var active = false

    @Option(name: .long, help: "Seconds to wait for the server before giving up.")
    var timeout: Int = 30

    @Option(name: .long, help: "Progress display: bar, plain or none (default: bar on a terminal, plain otherwise).")
    var progress: ProgressChoice?

    @Flag(name: [.short, .long], help: "Print nothing but errors.")
    var quiet = false

    enum ProgressChoice: String, ExpressibleByArgument {
        case bar, plain, none
    }

    var progressMode: ProgressMode {
        if self.quiet { return .quiet }
        switch self.progress {
        case .bar?: return .bar
        case .plain?: return .plain(every: 3)
        case .none?: return .quiet
        case nil: return .automatic(quiet: false)
        }
    }

    func validate() throws {
        guard self.timeout > 0 else { throw ValidationError("--timeout must be positive") }
        if self.insecure && self.cacert != nil { throw ValidationError("--insecure and --cacert exclude each other") }
    }

    /// Prints a line to standard error unless quiet.
    func note(_ text: String) {
        if !self.quiet { FileHandle.standardError.write(Data((text + "\n").utf8)) }
    }
}

/// A parsed `ftp://` / `ftps://` URL.
struct RemoteURL {
    var endpoint: FTPEndpoint
    var user: String?
    var password: String?
    var path: String

    init(_ text: String, plain: Bool) throws {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            scheme == "ftp" || scheme == "ftps", let host = components.host, !host.isEmpty
        else {
            throw ValidationError("'\(text)' is not an ftp:// or ftps:// URL (ftp://user@host:port/path)")
        }
        let security: FTPSecurity = scheme == "ftps" ? .implicit : (plain ? .none : .explicit)
        let bareHost = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        self.endpoint = FTPEndpoint(host: bareHost, port: components.port, security: security)
        self.user = components.user?.removingPercentEncoding ?? components.user
        self.password = components.password?.removingPercentEncoding ?? components.password
        let path = components.percentEncodedPath.removingPercentEncoding ?? components.path
        self.path = path.isEmpty ? "/" : path
    }

    /// The path as the server should see it: absolute from the login directory (the jail's root on Ferry).
    var serverPath: String { self.path }

    var display: String {
        let host = self.endpoint.host.contains(":") ? "[\(self.endpoint.host)]" : self.endpoint.host
        return "\(self.endpoint.security == .implicit ? "ftps" : "ftp")://\(host):\(self.endpoint.port)"
    }
}

/// How a failure ends the program: a message naming the problem and a distinct exit code.
struct Failure: Error, CustomStringConvertible {
    var message: String
    var code: Int32
    var description: String { self.message }

    init(_ message: String, code: Int32) {
        self.message = message
        self.code = code
    }

    init(_ error: FTPClientError) {
        self.message = error.description
        switch error.kind {
        case .connection, .protocolViolation: self.code = 65
        case .tls: self.code = 66
        case .authentication: self.code = 67
        case .remote: self.code = 68
        case .verification: self.code = 69
        case .localIO: self.code = 70
        case .cancelled: self.code = 130
        }
    }
}

/// Runs a command body, turning failures into a message on stderr and the exit code.
func runReportingFailures(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as FTPClientError {
        let failure = Failure(error)
        FileHandle.standardError.write(Data("ferry: \(failure.message)\n".utf8))
        throw ExitCode(failure.code)
    } catch let failure as Failure {
        FileHandle.standardError.write(Data("ferry: \(failure.message)\n".utf8))
        throw ExitCode(failure.code)
    }
}

/// Opens a logged-in session: credentials from the URL, FERRY_PASSWORD, --password-stdin, ~/.netrc or a prompt;
/// TLS trusted by the system, by --cacert, by --insecure, or by a fingerprint remembered in known_hosts.
func withSession<T>(
    _ remote: RemoteURL,
    _ options: ConnectionOptions,
    passwordFromStdin: String? = nil,
    _ body: (FTPClient) async throws -> T
) async throws -> T {
    let (user, password) = try credentials(for: remote, options, passwordFromStdin: passwordFromStdin)
    var configuration = FTPClientConfiguration()
    configuration.passive = !options.active
    configuration.timeout = .seconds(Int64(options.timeout))
    if options.insecure {
        configuration.trust = .insecure
    } else if let cacert = options.cacert {
        do {
            configuration.trust = .certificates(try NIOSSLCertificate.fromPEMFile(cacert))
        } catch {
            throw Failure("cannot read certificates from \(cacert): \(error)", code: 70)
        }
    }
    func run(_ configuration: FTPClientConfiguration) async throws -> T {
        try await FTPClient.withConnection(to: remote.endpoint, configuration: configuration) { client in
            try await client.login(user: user, password: password)
            return try await body(client)
        }
    }
    guard remote.endpoint.security != .none, case .system = configuration.trust else {
        return try await run(configuration)
    }
    do {
        return try await run(configuration)
    } catch let error as FTPClientError where error.kind == .tls && !error.message.contains("does not offer") {
        // Not trusted by the system: trust on first use, with the fingerprint remembered in known_hosts.
        configuration.trust = .pinned(try await trustOnFirstUse(remote, options, configuration))
        return try await run(configuration)
    }
}

/// The fingerprint to pin for a server the system does not trust, or an error explaining what to do.
func trustOnFirstUse(
    _ remote: RemoteURL,
    _ options: ConnectionOptions,
    _ configuration: FTPClientConfiguration
) async throws -> String {
    var probe = configuration
    probe.trust = .insecure
    let seen = try await FTPClient.withConnection(to: remote.endpoint, configuration: probe) { $0.peerFingerprint }
    guard let fingerprint = seen else { throw Failure("the server sent no certificate", code: 66) }
    let path = KnownHosts.defaultPath()
    var known: KnownHosts
    do {
        known = try KnownHosts.load(path: path)
    } catch {
        throw Failure("cannot read \(path): \(error)", code: 70)
    }
    let host = remote.endpoint.host
    let port = remote.endpoint.port
    switch known.check(host: host, port: port, fingerprint: fingerprint) {
    case .trusted:
        return fingerprint
    case .mismatch(let expected):
        throw Failure(
            """
            WARNING: the certificate of \(remote.display) has CHANGED.
              remembered SHA-256 fingerprint: \(expected)
              offered now:                    \(fingerprint)
            Someone may be intercepting the connection, or the server got a new certificate. Not connecting.
            If the change is expected, remove the line for this host from \(path).
            """,
            code: 66
        )
    case .unknown:
        let accepted: Bool
        if let wanted = options.acceptFingerprint {
            accepted =
                ServerCertificate.normalizedFingerprint(wanted) == ServerCertificate.normalizedFingerprint(fingerprint)
            if !accepted {
                throw Failure(
                    "the server's fingerprint is \(fingerprint), not the one given with --accept-fingerprint",
                    code: 66
                )
            }
        } else if Terminal.isTTY(Terminal.standardInput) && Terminal.isTTY(Terminal.standardError) {
            FileHandle.standardError.write(
                Data(
                    """
                    The certificate of \(remote.display) is not signed by an authority this system trusts.
                    SHA-256 fingerprint: \(fingerprint)
                    Compare it with the one the server's operator gives you (ferryd prints it at start-up).
                    Trust this certificate and remember it? [y/N] 
                    """.utf8
                )
            )
            accepted = (readLine() ?? "").lowercased().hasPrefix("y")
        } else {
            throw Failure(
                """
                the certificate of \(remote.display) is not trusted (SHA-256 \(fingerprint)).
                Verify the fingerprint, then run with --accept-fingerprint \(fingerprint) (remembered in \(path)), \
                or use --cacert FILE or --insecure.
                """,
                code: 66
            )
        }
        guard accepted else { throw Failure("certificate not trusted; not connecting", code: 66) }
        known.remember(host: host, port: port, fingerprint: fingerprint)
        do {
            try known.save()
        } catch {
            throw Failure("cannot save \(path): \(error)", code: 70)
        }
        options.note("remembered \(remote.display) as \(fingerprint) in \(path)")
        return fingerprint
    }
}

/// User and password, never from the command line unless the URL carries it.
func credentials(
    for remote: RemoteURL,
    _ options: ConnectionOptions,
    passwordFromStdin: String?
) throws -> (String, String) {
    let netrc = NetRC.load(path: NetRC.defaultPath())
    if let problem = netrc.problem { options.note("ferry: ignoring ~/.netrc: \(problem)") }
    let fromNetrc = netrc.netrc?.credentials(host: remote.endpoint.host, login: remote.user)
    let user = remote.user ?? fromNetrc?.login ?? "anonymous"
    if let password = remote.password { return (user, password) }
    if let password = ProcessInfo.processInfo.environment["FERRY_PASSWORD"] { return (user, password) }
    if let passwordFromStdin { return (user, passwordFromStdin) }
    if options.passwordStdin {
        guard let line = readLine(strippingNewline: true) else {
            throw Failure("--password-stdin: no password on standard input", code: 64)
        }
        return (user, line)
    }
    if let password = fromNetrc?.password, fromNetrc?.login == nil || fromNetrc?.login == user {
        return (user, password)
    }
    if user == "anonymous" { return (user, "ferry@") }
    guard let password = Terminal.readSecret(prompt: "Password for \(user)@\(remote.endpoint.host): ") else {
        throw Failure(
            "no password for \(user) (use the prompt, FERRY_PASSWORD, --password-stdin or ~/.netrc)",
            code: 64
        )
    }
    return (user, password)
}
