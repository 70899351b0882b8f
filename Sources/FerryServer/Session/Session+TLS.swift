import FerryProtocol
import NIOCore
import NIOSSL

/// AUTH TLS, PBSZ, PROT, CCC (RFC 2228, RFC 4217) and the TLS policy checks.
extension Session {
    /// RFC 4217 §9: the protection of data connections.
    enum DataProtection {
        case clear
        case `private`
    }

    /// Whether this client must use TLS before logging in (the policy, and for `automatic` whether it is local).
    var tlsRequired: Bool {
        switch self.context.configuration.tls {
        case .required: return true
        case .optional, .off: return false
        case .automatic: return !self.context.configuration.isLocal(self.peer)
        }
    }

    /// Data-connection settings for the current PROT level.
    var dataSettings: DataChannelSettings {
        var settings = self.context.dataSettings
        if self.dataProtection == .private { settings.tls = self.tlsContext }
        return settings
    }

    func handleAUTH(_ mechanism: String) async {
        guard let provider = self.context.tls else {
            await self.reply(.notImplemented, "FTPS is turned off on this server.")
            return
        }
        guard ["TLS", "SSL", "TLS-C"].contains(mechanism.uppercased()) else {
            await self.reply(.parameterNotImplemented, "AUTH \(mechanism) not supported; use AUTH TLS.")
            return
        }
        guard self.tlsContext == nil else {
            await self.reply(.badSequence, "TLS is already active.")
            return
        }
        guard !self.isLoggedIn else {
            await self.reply(.badSequence, "AUTH must come before login.")
            return
        }
        // One context for the whole session, control and data, so data connections can resume its TLS session
        // (and a certificate reload never changes a session halfway).
        let context = provider.context
        self.tlsContext = context
        self.login = .awaitingUser
        let reply = FTPReply(.securityExchangeOK, "AUTH \(mechanism.uppercased()) successful.")
        try? await Self.startTLS(on: self.control, lines: self.lines, context: context, after: reply).get()
        self.logger.info("tls started", metadata: ["mechanism": "\(mechanism.uppercased())"])
    }

    /// Writes `reply` in clear, then puts the TLS handler in front of the line decoder in the same event-loop
    /// tick, before the client's ClientHello can be read, and drops every line and byte that arrived in clear
    /// after the AUTH command (see `ControlLineHandler.discardUnread`).
    ///
    /// Both steps run inside one task on the event loop: registering the install on the write's future from
    /// another thread could find the write already done, and the install would then run in a later tick, after the
    /// client's ClientHello (sent as soon as it reads 234) had been read as a command line and lost — a handshake
    /// that never completes. Seen under load.
    static func startTLS(
        on channel: Channel,
        lines: NIOLoopBound<ControlLineHandler>,
        context: NIOSSLContext,
        after reply: FTPReply
    ) -> EventLoopFuture<Void> {
        channel.eventLoop.flatSubmit {
            channel.writeAndFlush(ByteBuffer(string: reply.wireFormat)).flatMapThrowing {
                lines.value.discardUnread()
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context), position: .first)
            }.flatMapErrorThrowing { error in
                channel.close(promise: nil)
                throw error
            }
        }
    }

    func handlePBSZ(_ size: String) async {
        guard self.tlsContext != nil else {
            await self.reply(.badSequence, "PBSZ needs AUTH TLS first.")
            return
        }
        guard let value = UInt64(size) else {
            await self.reply(.syntaxErrorInArguments, "PBSZ takes a number (0 with TLS).")
            return
        }
        self.protectionBufferSizeSet = true
        // RFC 4217 §8: with TLS the buffer size is 0 whatever the client proposed.
        await self.reply(.commandOK, value == 0 ? "PBSZ=0" : "PBSZ=0 (TLS needs no protection buffer)")
    }

    func handlePROT(_ level: String) async {
        guard self.tlsContext != nil, self.protectionBufferSizeSet else {
            await self.reply(.badSequence, "PROT needs AUTH TLS and PBSZ 0 first.")
            return
        }
        switch level.uppercased() {
        case "P":
            self.dataProtection = .private
            await self.reply(.commandOK, "Protection level set to Private: data connections use TLS.")
        case "C":
            if self.context.configuration.tlsData == .required {
                await self.reply(.requestDenied, "PROT C refused: data connections must be protected.")
                return
            }
            self.dataProtection = .clear
            await self.reply(.commandOK, "Protection level set to Clear.")
        case "S", "E":
            await self.reply(
                .protectionLevelNotSupported,
                "PROT \(level.uppercased()) not supported with TLS; use P or C."
            )
        default:
            await self.reply(.parameterNotImplemented, "Unknown protection level '\(level)'.")
        }
    }

    func handleCCC() async {
        await self.reply(.requestDenied, "CCC refused: the control connection stays encrypted.")
    }
}

extension FTPReplyCode {
    /// RFC 2228: request denied for policy reasons.
    static let requestDenied = FTPReplyCode(534)
    /// RFC 2228: requested PROT level not supported by mechanism.
    static let protectionLevelNotSupported = FTPReplyCode(536)
    /// RFC 4217 §10: data connection cannot be opened with this PROT setting.
    static let protectionRequired = FTPReplyCode(521)
}
