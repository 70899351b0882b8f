import NIOCore

/// The one spelling of a client's address that connection limits, bans and failed-login counters use.
///
/// A dual-stack listener (`::`) sees an IPv4 client as `::ffff:1.2.3.4`; a session serves it as `1.2.3.4`. Counting
/// the same client under two spellings made bans never apply (failures were recorded under one, connections checked
/// under the other), so every table is keyed by this value, made from the socket address's bytes, not its text:
///
/// - IPv4, and IPv4-mapped IPv6 (`::ffff:a.b.c.d`): the IPv4 address, `1.2.3.4`.
/// - Other IPv6: the network prefix the client controls as a whole, `2001:db8:1:2::/64` by default. One host gets a
///   whole /64 from its provider and can pick any address in it, so counting single IPv6 addresses would let it
///   multiply its connection limit and dodge a ban at will.
public struct ClientAddress: Hashable, Sendable, CustomStringConvertible {
    /// The key: an IPv4 address, or an IPv6 prefix in CIDR form.
    public let key: String

    /// Default prefix length that IPv6 clients are grouped by.
    public static let defaultIPv6PrefixLength = 64

    public init(key: String) {
        self.key = key
    }

    /// The address of `address` for limits and bans; nil for a socket without an IP address (a Unix socket).
    public init?(_ address: SocketAddress, ipv6PrefixLength: Int = ClientAddress.defaultIPv6PrefixLength) {
        switch address {
        case .v4(let v4):
            self.init(ipv4: withUnsafeBytes(of: v4.address.sin_addr) { Array($0) })
        case .v6(let v6):
            let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            self.init(ipv6: bytes, prefixLength: ipv6PrefixLength)
        case .unixDomainSocket:
            return nil
        }
    }

    /// From the four bytes of an IPv4 address, in network order.
    public init(ipv4 bytes: [UInt8]) {
        precondition(bytes.count == 4)
        self.init(key: bytes.map { String($0) }.joined(separator: "."))
    }

    /// From the sixteen bytes of an IPv6 address, in network order; an IPv4-mapped address is its IPv4 address.
    public init(ipv6 bytes: [UInt8], prefixLength: Int) {
        precondition(bytes.count == 16)
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            self.init(ipv4: Array(bytes[12..<16]))
            return
        }
        let length = min(128, max(0, prefixLength))
        var masked = bytes
        for index in 0..<16 {
            let bits = min(8, max(0, length - index * 8))
            masked[index] &= bits == 8 ? 0xFF : UInt8(truncatingIfNeeded: 0xFF00 >> bits)
        }
        self.init(key: Self.ipv6Text(masked) + (length == 128 ? "" : "/\(length)"))
    }

    public var description: String { self.key }

    /// RFC 5952 text of an IPv6 address: lower-case hex groups, the longest run of two or more zero groups as `::`.
    static func ipv6Text(_ bytes: [UInt8]) -> String {
        let groups = (0..<8).map { UInt16(bytes[$0 * 2]) << 8 | UInt16(bytes[$0 * 2 + 1]) }
        var best: Range<Int>? = nil
        var start: Int? = nil
        for index in 0...8 {
            if index < 8, groups[index] == 0 {
                if start == nil { start = index }
            } else if let run = start {
                if index - run >= 2, index - run > (best?.count ?? 0) { best = run..<index }
                start = nil
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard let best else { return hex.joined(separator: ":") }
        return hex[..<best.lowerBound].joined(separator: ":") + "::" + hex[best.upperBound...].joined(separator: ":")
    }
}
