import FerryProtocol
import FerryTLS
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

typealias ClientDataChannel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

/// A data connection being set up: connected already (passive) or waiting for the server (active).
enum DataLink {
    case connected(ClientDataChannel)
    case listening(Channel, EventLoopFuture<ClientDataChannel>)

    func channel() async throws -> ClientDataChannel {
        switch self {
        case .connected(let channel): return channel
        case .listening(let listener, let accepted):
            defer { listener.close(promise: nil) }
            return try await accepted.get()
        }
    }

    func abandon() {
        switch self {
        case .connected(let channel):
            Task { try? await channel.executeThenClose { _, _ in } }
        case .listening(let listener, let accepted):
            listener.close(promise: nil)
            accepted.whenSuccess { channel in Task { try? await channel.executeThenClose { _, _ in } } }
        }
    }
}

/// Configures a data channel: TLS as the client (the server is the TLS server on data connections, RFC 4217 §7).
struct DataChannelSetup: Sendable {
    var tls: NIOSSLContext?
    var host: String

    func configure(_ channel: Channel) throws -> ClientDataChannel {
        if let tls = self.tls {
            try channel.pipeline.syncOperations.addHandler(
                try TLSContextProvider.makeClientHandler(context: tls, host: self.host),
                position: .first
            )
        }
        return try ClientDataChannel(
            wrappingChannelSynchronously: channel,
            configuration: .init(backPressureStrategy: .init(lowWatermark: 4, highWatermark: 16))
        )
    }
}

/// Data connections: passive (EPSV, then PASV) or active (EPRT/PORT), with TLS when PROT P is in effect.
extension FTPClient {
    /// How data channels are set up for the current PROT level.
    var dataSetup: DataChannelSetup {
        DataChannelSetup(tls: self.dataProtected ? self.tlsContext : nil, host: self.endpoint.host)
    }

    func openDataLink() async throws -> DataLink {
        self.configuration.passive ? try await self.openPassive() : try await self.openActive()
    }

    private func openPassive() async throws -> DataLink {
        // SECURITY: connect to the control connection's peer whatever address a 227 names (as curl does), so a
        // server cannot point us at a third host.
        guard let peer = self.channel.remoteAddress, let peerIP = peer.ipAddress else {
            throw FTPClientError(.connection, "no peer address for the data connection")
        }
        var port: Int? = nil
        if self.epsvWorks {
            let reply = try await self.command("EPSV")
            if reply.code.rawValue == 229 {
                port = HostPort.parseEPSVReply(reply.lines[0])
            } else {
                self.epsvWorks = false
            }
        }
        if port == nil {
            guard case .v4 = peer else {
                throw FTPClientError(.remote, "the server offers no EPSV over IPv6")
            }
            let reply = try await self.expect("PASV", "the server refused passive mode")
            port = HostPort.parsePASVReply(reply.lines[0])?.port
        }
        guard let port else { throw FTPClientError(.protocolViolation, "unreadable passive-mode reply") }
        let setup = self.dataSetup
        do {
            // On the control connection's loop (see `executor`).
            let channel = try await ClientBootstrap(group: self.channel.eventLoop)
                .connectTimeout(self.configuration.timeout)
                .channelOption(
                    .recvAllocator,
                    value: AdaptiveRecvByteBufferAllocator(minimum: 4096, initial: 256 << 10, maximum: 1 << 20)
                )
                .connect(to: try SocketAddress(ipAddress: peerIP, port: port)) { channel in
                    channel.eventLoop.makeCompletedFuture { try setup.configure(channel) }
                }
            return .connected(channel)
        } catch {
            throw FTPClientError(.connection, "cannot open the data connection to \(peerIP):\(port): \(error)")
        }
    }

    private func openActive() async throws -> DataLink {
        guard let local = self.channel.localAddress, let ip = local.ipAddress else {
            throw FTPClientError(.connection, "no local address for active mode")
        }
        // The control connection's loop: the data connection's events then resume the transfer without a thread hop.
        let eventLoop = self.channel.eventLoop
        let accepted = eventLoop.makePromise(of: ClientDataChannel.self)
        let taken = NIOLockedValueBox(false)
        let peerIP = self.channel.remoteAddress?.ipAddress
        let setup = self.dataSetup
        let listener = try await ServerBootstrap(group: eventLoop)
            .serverChannelOption(.backlog, value: 4)
            .childChannelInitializer { child in
                // SECURITY: only the server we talk to, and only once.
                guard child.remoteAddress?.ipAddress == peerIP,
                    taken.withLockedValue({ was in
                        defer { was = true }; return !was
                    })
                else { return child.eventLoop.makeFailedFuture(FTPClientError(.connection, "unexpected peer")) }
                return child.eventLoop.makeCompletedFuture {
                    let channel = try setup.configure(child)
                    accepted.succeed(channel)
                }
            }
            .bind(to: try SocketAddress(ipAddress: ip, port: 0))
            .get()
        let timeout = eventLoop.scheduleTask(in: self.configuration.timeout) {
            accepted.fail(FTPClientError(.connection, "the server did not connect for active mode"))
        }
        accepted.futureResult.whenComplete { _ in timeout.cancel() }
        let port = listener.localAddress?.port ?? 0
        let command: String
        if case .v6 = local {
            command = "EPRT |2|\(ip)|\(port)|"
        } else {
            let octets = ip.split(separator: ".").joined(separator: ",")
            command =
                self.features["EPRT"] != nil ? "EPRT |1|\(ip)|\(port)|" : "PORT \(octets),\(port >> 8),\(port & 0xFF)"
        }
        do {
            try await self.expect(command, "the server refused active mode")
        } catch {
            listener.close(promise: nil)
            throw error
        }
        return .listening(listener, accepted.futureResult)
    }

    /// Runs one transfer command (RETR, STOR, APPE, LIST, …) with its data connection, ABOR on cancellation.
    ///
    /// `prelude` commands (REST) are sent after the data connection is set up and must be answered 350.
    func withDataTransfer<T: Sendable>(
        _ command: String,
        prelude: [String] = [],
        control transferControl: TransferControl? = nil,
        _ body: (NIOAsyncChannelInboundStream<ByteBuffer>, Channel) async throws -> T
    ) async throws -> T {
        let link = try await self.openDataLink()
        do {
            for line in prelude { try await self.expect(line, "\(line) refused", accept: [350]) }
            let start = try await self.command(command)
            guard start.code.rawValue == 150 || start.code.rawValue == 125 else {
                throw FTPClientError.remote("\(command) refused", start)
            }
        } catch {
            link.abandon()
            throw error
        }
        let data = try await link.channel()
        let control = self.channel
        let abort: @Sendable () -> Void = {
            // RFC 959 §4.1.3: Telnet IP and Synch, then ABOR; the server answers 426 then 226.
            control.writeAndFlush(ByteBuffer(bytes: [0xFF, 0xF4, 0xFF, 0xF2] + Array("ABOR\r\n".utf8)), promise: nil)
            data.channel.close(promise: nil)
        }
        transferControl?.onCancel(abort)
        defer { transferControl?.onCancel(nil) }
        let result: T
        do {
            result = try await data.executeThenClose { inbound, _ in
                try await withTaskCancellationHandler {
                    try await body(inbound, data.channel)
                } onCancel: {
                    abort()
                }
            }
            if transferControl?.isCancelled ?? false { throw CancellationError() }
        } catch {
            if Task.isCancelled || (transferControl?.isCancelled ?? false) {
                // The transfer's reply (426, or 226 when it had just finished before the ABOR arrived) and the
                // ABOR's (226/225) may both come, or only one: a NOOP after them marks where they end, so the next
                // command reads its own reply.
                if (try? await self.send("NOOP")) != nil {
                    for _ in 0..<4 {
                        guard let reply = try? await self.readReply() else { break }
                        let code = reply.code.rawValue
                        if code == 200 || (reply.code.isCompletion && code != 225 && code != 226) { break }
                    }
                }
                throw FTPClientError(.cancelled, "\(command) cancelled")
            }
            // The data connection failed: the server's reply says why (426, 451, 552, …).
            let reply = try? await self.readReply()
            if let reply, reply.code.isFailure { throw FTPClientError.remote("\(command) failed", reply) }
            if let error = error as? FTPClientError { throw error }
            throw FTPClientError(.connection, "\(command): data connection failed (\(error))", reply: reply)
        }
        let end = try await self.readReply()
        guard end.code.isCompletion else { throw FTPClientError.remote("\(command) failed", end) }
        return result
    }

    /// The whole data of a command, as text (listings).
    func receiveText(_ command: String) async throws -> String {
        let bytes = try await self.withDataTransfer(command) { inbound, _ in
            var all = ByteBuffer()
            for try await chunk in inbound {
                var chunk = chunk
                all.writeBuffer(&chunk)
                guard all.readableBytes < 256 << 20 else {
                    throw FTPClientError(.protocolViolation, "listing larger than 256 MiB")
                }
            }
            return all
        }
        return String(decoding: bytes.readableBytesView, as: UTF8.self)
    }
}

/// Lets another task stop a running transfer: `cancel()` sends ABOR and closes the data connection, the transfer
/// call throws `.cancelled`, and the session stays usable. (Cancelling the calling task does the same.)
public final class TransferControl: Sendable {
    private struct State {
        var cancelled = false
        var handler: (@Sendable () -> Void)?
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    public func cancel() {
        let handler = self.state.withLockedValue { state -> (@Sendable () -> Void)? in
            guard !state.cancelled else { return nil }
            state.cancelled = true
            return state.handler
        }
        handler?()
    }

    public var isCancelled: Bool { self.state.withLockedValue { $0.cancelled } }

    /// Runs `handler` on cancel (at once if already cancelled); nil removes it.
    func onCancel(_ handler: (@Sendable () -> Void)?) {
        let runNow = self.state.withLockedValue { state -> Bool in
            state.handler = handler
            return state.cancelled && handler != nil
        }
        if runNow { handler?() }
    }
}
