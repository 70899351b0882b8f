import FerryProtocol
import NIOCore

/// PASV, EPSV, PORT, EPRT: how the next data connection will be made.
extension Session {
    func handlePASV() async {
        guard !self.epsvAllOnly else {
            await self.reply(.badSequence, "EPSV ALL in effect, use EPSV.")
            return
        }
        guard case .v4 = self.local else {
            await self.reply(.unsupportedNetworkProtocol, "PASV works over IPv4 only, use EPSV.")
            return
        }
        guard let listener = await self.openPassiveListener() else { return }
        let octets = self.announcedIPv4Octets()
        await self.reply(.enteringPassiveMode, HostPort.pasvReplyText(ipv4: octets, port: listener.port))
    }

    func handleEPSV(_ argument: EPSVArgument) async {
        switch argument {
        case .all:
            self.epsvAllOnly = true
            await self.reply(.commandOK, "EPSV ALL ok.")
        case .networkProtocol(let number) where number != self.controlProtocolNumber:
            await self.reply(
                .unsupportedNetworkProtocol,
                "Network protocol not supported, use (\(self.controlProtocolNumber))"
            )
        case .any, .networkProtocol:
            guard let listener = await self.openPassiveListener() else { return }
            await self.reply(.enteringExtendedPassiveMode, HostPort.epsvReplyText(port: listener.port))
        }
    }

    /// PORT and EPRT (RFC 959, RFC 2428).
    func handlePORT(_ target: HostPort, extended: Bool) async {
        guard !self.epsvAllOnly else {
            await self.reply(.badSequence, "EPSV ALL in effect, use EPSV.")
            return
        }
        let targetProtocol = target.family == .ipv4 ? 1 : 2
        if extended && targetProtocol != self.controlProtocolNumber {
            await self.reply(
                .unsupportedNetworkProtocol,
                "Network protocol not supported, use (\(self.controlProtocolNumber))"
            )
            return
        }
        guard let address = try? SocketAddress(ipAddress: target.host, port: target.port) else {
            await self.reply(.syntaxErrorInArguments, "Invalid address \(target).")
            return
        }
        // SECURITY: no FTP bounce. The data connection may only go back to the client itself, and never to a
        // privileged port (RFC 2577).
        guard Self.sameHost(address, self.peer), target.port >= 1024 else {
            self.logger.warning("refused PORT to another host or privileged port", metadata: ["target": "\(target)"])
            await self.reply(
                .parameterNotImplemented,
                "Data connections go only to your own address, port 1024 or above."
            )
            return
        }
        self.dropDataSetup()
        self.dataSetup = .active(address)
        await self.reply(.commandOK, "\(extended ? "EPRT" : "PORT") command successful.")
    }

    /// 1 for IPv4, 2 for IPv6 (RFC 2428 network protocol numbers) of the control connection.
    var controlProtocolNumber: Int {
        if case .v6 = self.local { return 2 }
        return 1
    }

    /// Arms the session's passive port for the next data connection, opening the port first if there is none.
    private func openPassiveListener() async -> PassiveListener? {
        self.dropDataSetup()
        let configuration = self.context.configuration
        let acceptTimeout = TimeAmount(configuration.dataConnectionTimeout)
        if let listener = self.passivePort?.arm(
            expectedPeer: self.peer,
            settings: self.dataSettings,
            acceptTimeout: acceptTimeout
        ) {
            self.dataSetup = .passive(listener)
            return listener
        }
        // No port yet, or it lingered out or was retired: a fresh one.
        self.passivePort?.close()
        self.passivePort = nil
        do {
            // On the session's own event loop: binding and accepting resume the session without a thread hop.
            let port = try await PassivePort.open(
                on: self.control.eventLoop,
                localAddress: self.local,
                ports: configuration.passivePorts,
                linger: TimeAmount(configuration.passivePortLinger)
            )
            self.passivePort = port
            guard
                let listener = port.arm(
                    expectedPeer: self.peer,
                    settings: self.dataSettings,
                    acceptTimeout: acceptTimeout
                )
            else { throw DataConnectionError.refused("passive port closed at once") }
            self.dataSetup = .passive(listener)
            return listener
        } catch {
            self.logger.error("cannot open passive listener", metadata: ["error": "\(error)"])
            await self.reply(.cannotOpenDataConnection, "Cannot open passive connection.")
            return nil
        }
    }

    /// The address announced in 227: the configured NAT address, or the control connection's local IPv4.
    private func announcedIPv4Octets() -> [UInt8] {
        let text = self.context.configuration.passiveAddress ?? self.local.ipAddress ?? "127.0.0.1"
        let octets = text.split(separator: ".").compactMap { UInt8($0) }
        return octets.count == 4 ? octets : [127, 0, 0, 1]
    }

    func dropDataSetup() {
        if case .passive(let listener) = self.dataSetup { listener.close() }
        self.dataSetup = .none
    }

    /// Compares two addresses by IP only, treating an IPv4-mapped IPv6 address as its IPv4 form.
    static func sameHost(_ a: SocketAddress, _ b: SocketAddress) -> Bool {
        guard let left = Self.unmapped(a)?.ipAddress, let right = Self.unmapped(b)?.ipAddress else { return false }
        return left == right
    }

    /// The IPv4 address behind an IPv4-mapped IPv6 one (`::ffff:192.0.2.1`), with its port; any other address as
    /// it is.
    static func unmapped(_ address: SocketAddress?) -> SocketAddress? {
        guard let address, case .v6 = address, let ip = address.ipAddress, ip.hasPrefix("::ffff:"), ip.contains(".")
        else { return address }
        return (try? SocketAddress(ipAddress: String(ip.dropFirst(7)), port: address.port ?? 0)) ?? address
    }

    /// Takes the data setup for the next transfer; replies 425 if there is none, 521 if the data connection
    /// would be clear while policy requires PROT P.
    func takeDataSetup() async -> DataSetup? {
        let setup = self.dataSetup
        self.dataSetup = .none
        if self.context.configuration.tlsData == .required && self.dataProtection != .private {
            if case .passive(let listener) = setup { listener.close() }
            await self.reply(.protectionRequired, "Data connections must be protected: send PBSZ 0 and PROT P.")
            return nil
        }
        switch setup {
        case .none:
            await self.reply(.cannotOpenDataConnection, "Use PORT, EPRT, PASV or EPSV first.")
            return nil
        case .passive(let listener) where listener.protected != (self.dataProtection == .private):
            listener.close()
            await self.reply(.cannotOpenDataConnection, "PROT changed after PASV; send PASV or EPSV again.")
            return nil
        case .passive, .active:
            return setup
        }
    }
}
