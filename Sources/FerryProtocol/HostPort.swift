/// A host address and TCP port as carried by PORT/EPRT (client to server) and PASV/EPSV replies.
///
/// The host is kept as a textual IP literal; the server turns it into a socket address and checks it
/// against the control connection's peer (no FTP bounce).
public struct HostPort: Hashable, Sendable, CustomStringConvertible {
    public enum Family: Hashable, Sendable {
        case ipv4
        case ipv6
    }

    public var family: Family
    public var host: String
    public var port: Int

    public init(family: Family, host: String, port: Int) {
        self.family = family
        self.host = host
        self.port = port
    }

    public var description: String {
        self.family == .ipv6 ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
    }

    /// RFC 959 PORT argument: `h1,h2,h3,h4,p1,p2`, each a decimal 0...255.
    public static func parsePORT(_ argument: String) throws(FTPCommandParseError) -> HostPort {
        let fields = argument.split(separator: ",", omittingEmptySubsequences: false)
        var numbers: [Int] = []
        for field in fields {
            let trimmed = field.trimmingSpaces()
            guard !trimmed.isEmpty, trimmed.count <= 3, trimmed.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let value = Int(trimmed), value <= 255
            else {
                throw FTPCommandParseError(.syntaxErrorInArguments, "PORT takes h1,h2,h3,h4,p1,p2 with each 0-255.")
            }
            numbers.append(value)
        }
        guard numbers.count == 6 else {
            throw FTPCommandParseError(.syntaxErrorInArguments, "PORT takes h1,h2,h3,h4,p1,p2 with each 0-255.")
        }
        let host = numbers[0..<4].map(String.init).joined(separator: ".")
        return HostPort(family: .ipv4, host: host, port: numbers[4] << 8 | numbers[5])
    }

    /// RFC 2428 EPRT argument: `<d><proto><d><address><d><port><d>`, e.g. `|2|::1|6275|`.
    public static func parseEPRT(_ argument: String) throws(FTPCommandParseError) -> HostPort {
        guard let delimiter = argument.first, (33...126).contains(delimiter.asciiValue ?? 0) else {
            throw FTPCommandParseError(.syntaxErrorInArguments, "EPRT takes |proto|address|port|.")
        }
        let fields = argument.split(separator: delimiter, omittingEmptySubsequences: false)
        // "|2|::1|6275|" splits into ["", "2", "::1", "6275", ""].
        guard fields.count == 5, fields[0].isEmpty, fields[4].isEmpty else {
            throw FTPCommandParseError(.syntaxErrorInArguments, "EPRT takes |proto|address|port|.")
        }
        let family: Family
        switch fields[1] {
        case "1": family = .ipv4
        case "2": family = .ipv6
        default:
            throw FTPCommandParseError(.unsupportedNetworkProtocol, "Network protocol not supported, use (1,2)")
        }
        guard let port = Int(fields[3]), (1...65535).contains(port) else {
            throw FTPCommandParseError(.syntaxErrorInArguments, "EPRT port must be 1-65535.")
        }
        let host = String(fields[2])
        let valid = family == .ipv4 ? Self.isIPv4Literal(host) : Self.isIPv6Literal(host)
        guard valid else {
            throw FTPCommandParseError(.syntaxErrorInArguments, "EPRT address is not a valid IP address.")
        }
        return HostPort(family: family, host: host, port: port)
    }

    /// The text of a 227 reply (RFC 959; the form with parentheses that every client parses).
    public static func pasvReplyText(ipv4 octets: [UInt8], port: Int) -> String {
        let hostPart = octets.map(String.init).joined(separator: ",")
        return "Entering Passive Mode (\(hostPart),\(port >> 8),\(port & 0xFF))."
    }

    /// The text of a 229 reply (RFC 2428 §3).
    public static func epsvReplyText(port: Int) -> String {
        "Entering Extended Passive Mode (|||\(port)|)"
    }

    static func isIPv4Literal(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
                && Int(part)! <= 255
        }
    }

    static func isIPv6Literal(_ text: String) -> Bool {
        // Cheap structural check; the server's socket-address constructor is the final judge.
        guard (2...45).contains(text.utf8.count), text.contains(":") else { return false }
        return text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46)
                || byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".")
        }
    }
}

extension FTPReplyCode {
    /// RFC 2428 §2: network protocol not supported.
    public static let unsupportedNetworkProtocol = FTPReplyCode(522)
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var trimmed = self
        while trimmed.first == " " { trimmed = trimmed.dropFirst() }
        while trimmed.last == " " { trimmed = trimmed.dropLast() }
        return trimmed
    }
}
