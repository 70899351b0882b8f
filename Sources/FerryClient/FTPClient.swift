import FerryNIO
import FerryProtocol
import FerryTLS
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// Where to connect and how.
public struct FTPEndpoint: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var security: FTPSecurity

    public init(host: String, port: Int? = nil, security: FTPSecurity = .explicit) {
        self.host = host
        self.security = security
        self.port = port ?? (security == .implicit ? 990 : 21)
    }
}

/// Settings of one client connection.
public struct FTPClientConfiguration: Sendable {
    public var trust: TLSTrust = .system
    /// Passive data connections (EPSV, falling back to PASV); false for active mode (EPRT/PORT).
    public var passive = true
    /// Connecting and every wait for a reply or for data.
    public var timeout: TimeAmount = .seconds(30)
    /// Protect data connections with TLS (PROT P) when the control connection uses TLS.
    public var protectData = true
    public var group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    public var fileIO: NIOThreadPool = .singleton
    /// Whether to ask FEAT after connecting (checksum commands, EPSV, MLST… are chosen from it). Load generators
    /// that only log in may turn it off to keep the exchange minimal.
    public var asksFeatures = true

    public init() {}
}

/// An FTP/FTPS client session: one control connection, used by one task at a time.
///
/// Open it with `FTPClient.withConnection(to:configuration:_:)`, which connects, reads the greeting, sets up TLS
/// as the endpoint asks, and always closes the connection (with QUIT when possible) when the body returns.
///
///     try await FTPClient.withConnection(to: FTPEndpoint(host: "127.0.0.1", port: 2121)) { client in
///         try await client.login(user: "alice", password: "secret")
///         let result = try await client.download("report.pdf", to: "report.pdf")
///         print(result.verification)  // sha256 verified
///     }
public final class FTPClient {
    public let endpoint: FTPEndpoint
    let configuration: FTPClientConfiguration
    let channel: Channel
    private var inbound: NIOAsyncChannelInboundStream<FTPControlLine>.AsyncIterator
    private var parser = FTPReplyParser()

    /// The server's greeting.
    public private(set) var greeting: FTPReply?
    /// FEAT lines, first word upper-cased (e.g. `HASH`, `MLST`, `EPSV`, `SITE`), mapped to the whole line.
    public private(set) var features: [String: String] = [:]
    /// The SHA-256 fingerprint of the server's certificate, when TLS is up.
    public private(set) var peerFingerprint: String?
    /// The negotiated TLS version, when TLS is up.
    public private(set) var tlsVersion: String?
    /// Runs tasks on the control connection's event loop, where the data connections live too. Protocol work
    /// wrapped in `withTaskExecutorPreference(client.executor) { … }` (a load generator's loop of RETRs, a listing)
    /// then resumes there after each reply and each chunk, instead of hopping between the loop and Swift's global
    /// pool twice per await (measured: 500 small RETRs 2.2× faster). Keep blocking or heavy work (hashing, file
    /// I/O) out of it: it would run on the event loop.
    public let executor: any TaskExecutor
    var tlsContext: NIOSSLContext?
    var dataProtected = false
    var epsvWorks = true

    private init(
        endpoint: FTPEndpoint,
        configuration: FTPClientConfiguration,
        channel: Channel,
        inbound: NIOAsyncChannelInboundStream<FTPControlLine>.AsyncIterator
    ) {
        self.endpoint = endpoint
        self.configuration = configuration
        self.channel = channel
        self.inbound = inbound
        self.executor = EventLoopTaskExecutor(channel.eventLoop)
    }

    // MARK: - Connecting

    /// Connects, runs `body` with the session, then says QUIT and closes.
    public static func withConnection<T>(
        to endpoint: FTPEndpoint,
        configuration: FTPClientConfiguration = FTPClientConfiguration(),
        _ body: (FTPClient) async throws -> T
    ) async throws -> T {
        let tls: NIOSSLContext? = endpoint.security == .none ? nil : try Self.makeTLSContext(configuration.trust)
        let control: NIOAsyncChannel<FTPControlLine, ByteBuffer>
        do {
            control = try await ClientBootstrap(group: configuration.group)
                .connectTimeout(configuration.timeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: endpoint.host, port: endpoint.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if endpoint.security == .implicit, let tls {
                            try channel.pipeline.syncOperations.addHandler(
                                try TLSContextProvider.makeClientHandler(context: tls, host: endpoint.host)
                            )
                        }
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(FTPLineDecoder(maximumLineLength: 1 << 16))
                        )
                        return try NIOAsyncChannel<FTPControlLine, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw FTPClientError(.connection, "cannot connect to \(endpoint.host):\(endpoint.port): \(error)")
        }
        return try await control.executeThenClose { inbound, _ in
            let client = FTPClient(
                endpoint: endpoint,
                configuration: configuration,
                channel: control.channel,
                inbound: inbound.makeAsyncIterator()
            )
            do {
                try await client.start(tls: tls)
                let result = try await body(client)
                try? await client.quit()
                return result
            } catch {
                try? await client.quit()
                throw error
            }
        }
    }

    private func start(tls: NIOSSLContext?) async throws {
        let greeting = try await self.readReply()
        guard greeting.code.isCompletion else {
            throw FTPClientError.remote("the server refused the connection", greeting)
        }
        self.greeting = greeting
        switch self.endpoint.security {
        case .none:
            break
        case .implicit:
            self.tlsContext = tls
            try await self.checkPeer()
        case .explicit:
            let reply = try await self.command("AUTH TLS")
            guard reply.code.rawValue == 234 else {
                throw FTPClientError(.tls, "the server does not offer FTPS (AUTH TLS)", reply: reply)
            }
            guard let tls else { return }
            let host = self.endpoint.host
            let channel = self.channel
            try await channel.eventLoop.submit {
                let handler = try TLSContextProvider.makeClientHandler(context: tls, host: host)
                try channel.pipeline.syncOperations.addHandler(handler, position: .first)
            }.get()
            self.tlsContext = tls
            try await self.checkPeer()
        }
        if self.configuration.asksFeatures { try await self.readFeatures() }
    }

    /// Waits for the handshake (a NOOP round trip), then records the certificate and enforces a pin.
    private func checkPeer() async throws {
        let reply: FTPReply
        do {
            reply = try await self.command(self.endpoint.security == .implicit ? "NOOP" : "PBSZ 0")
        } catch let error as FTPClientError where error.kind == .connection {
            throw FTPClientError(.tls, "TLS handshake with \(self.endpoint.host) failed (\(error.message))")
        }
        let info = try await TLSPeerInfo.current(of: self.channel)
        self.peerFingerprint = info.fingerprint
        self.tlsVersion = info.tlsVersion.map { "\($0)" }
        if case .pinned(let expected) = self.configuration.trust,
            ServerCertificate.normalizedFingerprint(expected)
                != info.fingerprint.flatMap(ServerCertificate.normalizedFingerprint)
        {
            throw FTPClientError(
                .tls,
                "the server's certificate changed: its SHA-256 fingerprint is \(info.fingerprint ?? "unknown"), "
                    + "the pinned one is \(expected); refusing to continue (someone may be intercepting the connection)"
            )
        }
        if self.endpoint.security == .implicit {
            _ = try await self.command("PBSZ 0")
        } else {
            guard reply.code.isCompletion else { throw FTPClientError.remote("PBSZ 0 refused", reply) }
        }
        if self.configuration.protectData {
            try await self.expect("PROT P", "cannot protect data connections (PROT P)")
            self.dataProtected = true
        }
    }

    static func makeTLSContext(_ trust: TLSTrust) throws -> NIOSSLContext {
        do {
            switch trust {
            case .system:
                return try TLSContextProvider.clientContext(trustRoots: nil, verify: true)
            case .certificates(let roots):
                return try TLSContextProvider.clientContext(trustRoots: roots, verify: true)
            case .pinned, .insecure:
                return try TLSContextProvider.clientContext(trustRoots: nil, verify: false)
            }
        } catch {
            throw FTPClientError(.tls, "cannot set up TLS: \(error)")
        }
    }

    private func readFeatures() async throws {
        let reply = try await self.command("FEAT")
        guard reply.code.rawValue == 211 else { return }
        for line in reply.lines.dropFirst().dropLast() {
            let trimmed = line.drop(while: { $0 == " " })
            let name = trimmed.prefix(while: { $0 != " " }).uppercased()
            if !name.isEmpty { self.features[name] = String(trimmed) }
        }
    }

    // MARK: - Commands and replies

    /// Sends one command line and reads its reply.
    @discardableResult
    public func command(_ line: String) async throws -> FTPReply {
        try await self.send(line)
        return try await self.readReply()
    }

    /// Sends a command and throws unless the reply is a completion (2xx) or, when given, one of `accept`.
    @discardableResult
    func expect(_ line: String, _ what: @autoclosure () -> String, accept: Set<Int> = []) async throws -> FTPReply {
        let reply = try await self.command(line)
        guard reply.code.isCompletion || accept.contains(reply.code.rawValue) else {
            throw FTPClientError.remote(what(), reply)
        }
        return reply
    }

    func send(_ line: String) async throws {
        guard !line.contains("\r") && !line.contains("\n") else {
            throw FTPClientError(.protocolViolation, "a command may not contain CR or LF")
        }
        // A write waits for a TLS handshake in progress; if that never completes, the deadline closes the
        // connection and the write fails instead of hanging.
        let channel = self.channel
        let deadline = channel.eventLoop.scheduleTask(in: self.configuration.timeout) { channel.close(promise: nil) }
        defer { deadline.cancel() }
        do {
            try await channel.writeAndFlush(ByteBuffer(string: line + "\r\n"))
        } catch {
            throw FTPClientError(.connection, "connection to \(self.endpoint.host) lost")
        }
    }

    /// Reads the next complete reply, within the timeout.
    func readReply() async throws -> FTPReply {
        let channel = self.channel
        let timeout = channel.eventLoop.scheduleTask(in: self.configuration.timeout) { channel.close(promise: nil) }
        defer { timeout.cancel() }
        while true {
            let next: FTPControlLine?
            do {
                next = try await self.inbound.next()
            } catch {
                throw FTPClientError(.connection, "connection to \(self.endpoint.host) lost (\(error))")
            }
            guard let next else {
                throw FTPClientError(.connection, "the server closed the connection")
            }
            guard case .line(let line) = next else {
                throw FTPClientError(.protocolViolation, "over-long reply line from the server")
            }
            do {
                if let reply = try self.parser.feed(line) {
                    if reply.code.isPreliminary && reply.code.rawValue != 150 && reply.code.rawValue != 125 {
                        // 1xx other than "data connection opening" (e.g. 110 restart markers) carry nothing for us.
                        continue
                    }
                    return reply
                }
            } catch {
                throw FTPClientError(.protocolViolation, error.description)
            }
        }
    }

    // MARK: - Session

    /// USER and PASS (and nothing else: the password never reaches a log).
    public func login(user: String, password: String) async throws {
        let reply = try await self.command("USER \(user)")
        if reply.code.rawValue == 230 { return }
        guard reply.code.rawValue == 331 else { throw FTPClientError.remote("login refused", reply) }
        let pass = try await self.command("PASS \(password)")
        guard pass.code.isCompletion else {
            throw FTPClientError(.authentication, "login as \(user) failed", reply: pass)
        }
        _ = try? await self.command("TYPE I")
        // Some servers only tell logged-in users everything.
        if self.features.isEmpty, self.configuration.asksFeatures { try await self.readFeatures() }
    }

    public func quit() async throws {
        guard self.channel.isActive else { return }
        try await self.send("QUIT")
        _ = try? await self.readReply()
    }

    public func pwd() async throws -> String {
        let reply = try await self.expect("PWD", "PWD failed")
        // A server that does not quote the path (against RFC 959) is taken at its word.
        return FTPReply.unquotedPath(reply.lines[0]) ?? reply.lines[0]
    }

    public func cd(_ path: String) async throws {
        try await self.expect(path == ".." ? "CDUP" : "CWD \(path)", "cannot change to \(path)")
    }

    public func mkdir(_ path: String) async throws { try await self.expect("MKD \(path)", "cannot create \(path)") }
    public func rmdir(_ path: String) async throws { try await self.expect("RMD \(path)", "cannot remove \(path)") }
    public func delete(_ path: String) async throws { try await self.expect("DELE \(path)", "cannot delete \(path)") }

    public func rename(_ from: String, to destination: String) async throws {
        try await self.expect("RNFR \(from)", "cannot rename \(from)", accept: [350])
        try await self.expect("RNTO \(destination)", "cannot rename \(from) to \(destination)")
    }

    /// SIZE (RFC 3659), or nil when the server does not know it.
    public func size(_ path: String) async throws -> Int64? {
        let reply = try await self.command("SIZE \(path)")
        guard reply.code.rawValue == 213 else {
            if reply.code.rawValue == 550 { throw FTPClientError.remote("no such file \(path)", reply) }
            return nil
        }
        return Int64(reply.lines[0].trimmingCharacters(in: " "))
    }

    /// MDTM (RFC 3659): seconds since the epoch, UTC.
    public func modificationTime(_ path: String) async throws -> Int64? {
        let reply = try await self.command("MDTM \(path)")
        guard reply.code.rawValue == 213 else { return nil }
        return ListingParser.parseMLSx("modify=\(reply.lines[0].trimmingCharacters(in: " ")); x")?.modified
    }

    /// SITE QUOTA where offered: the reply's lines.
    public func quota() async throws -> [String] {
        let reply = try await self.expect("SITE QUOTA", "the server does not report quotas")
        return reply.lines
    }

    /// The entries of a directory: MLSD when the server offers it, LIST parsed otherwise.
    public func list(_ path: String? = nil) async throws -> [RemoteEntry] {
        let machine = self.features["MLST"] != nil
        let verb = machine ? "MLSD" : "LIST"
        let text = try await self.receiveText(path.map { "\(verb) \($0)" } ?? verb)
        let now = Int64(Date.now.timeIntervalSince1970)
        return ListingParser.parse(listing: text, machine: machine, now: now).filter { !$0.isCurrentOrParent }
    }

    /// The names in a directory (NLST).
    public func names(_ path: String? = nil) async throws -> [String] {
        let text = try await self.receiveText(path.map { "NLST \($0)" } ?? "NLST")
        return text.split(whereSeparator: { $0 == "\r\n" || $0 == "\n" }).map(String.init)
    }
}

extension String {
    func trimmingCharacters(in character: Character) -> String {
        var slice = Substring(self)
        while slice.first == character { slice = slice.dropFirst() }
        while slice.last == character { slice = slice.dropLast() }
        return String(slice)
    }
}
