import NIOCore
import Testing

@testable import FerryProtocol

@Suite("client addresses for limits and bans")
struct ClientAddressTests {
    @Test("IPv4 and IPv4-mapped IPv6 are the same client")
    func mapped() throws {
        let v4 = ClientAddress(try SocketAddress(ipAddress: "192.0.2.7", port: 1))
        let mapped = ClientAddress(try SocketAddress(ipAddress: "::ffff:192.0.2.7", port: 2))
        #expect(v4 == mapped)
        #expect(v4?.key == "192.0.2.7")
    }

    @Test("IPv6 clients are grouped by their /64")
    func prefix() throws {
        let a = ClientAddress(try SocketAddress(ipAddress: "2001:db8:1:2::1", port: 1))
        let b = ClientAddress(try SocketAddress(ipAddress: "2001:db8:1:2:ffff:ffff:ffff:ffff", port: 1))
        let c = ClientAddress(try SocketAddress(ipAddress: "2001:db8:1:3::1", port: 1))
        #expect(a == b)
        #expect(a != c)
        #expect(a?.key == "2001:db8:1:2::/64")
        #expect(ClientAddress(try SocketAddress(ipAddress: "::1", port: 1), ipv6PrefixLength: 128)?.key == "::1")
        #expect(
            ClientAddress(try SocketAddress(ipAddress: "2001:db8::1", port: 1), ipv6PrefixLength: 48)?.key
                == "2001:db8::/48"
        )
        // A prefix length that is not a multiple of 8 masks inside a byte.
        #expect(
            ClientAddress(try SocketAddress(ipAddress: "2001:db8:ffff::", port: 1), ipv6PrefixLength: 36)?.key
                == "2001:db8:f000::/36"
        )
    }

    @Test("RFC 5952 text: the longest zero run becomes ::, a single zero group does not")
    func text() {
        var bytes = [UInt8](repeating: 0, count: 16)
        bytes[0] = 0x20
        bytes[1] = 0x01
        bytes[3] = 0x0d
        bytes[15] = 1
        #expect(ClientAddress.ipv6Text(bytes) == "2001:d::1")
        var one = [UInt8](repeating: 1, count: 16)
        one[2] = 0
        one[3] = 0
        #expect(ClientAddress.ipv6Text(one) == "101:0:101:101:101:101:101:101")
    }
}
