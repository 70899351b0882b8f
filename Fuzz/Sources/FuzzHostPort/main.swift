// Addresses that cross the control connection: PORT/EPRT/EPSV arguments (client to server) and the 227/229 reply
// texts (server to client), parsed by `HostPort`.
//
// Input: 4 bytes IPv4 octets, 2 bytes port (for the formatter round trip), then the text given to every parser.
//
// Invariants:
// - PORT and EPRT give an IP literal of their family and a port in range (EPRT: 1-65535, PORT: 0-65535), and the
//   address written back in the same syntax parses to the same value.
// - EPSV takes nothing, ALL or a positive protocol number.
// - The 227 and 229 parsers give a port in range (and for 227 four octets 0-255), never trap on server text, and read
//   back exactly what Ferry's own reply formatters write, for any address and port.
import FerryProtocol
import FuzzSupport

func isIPv4(_ host: String) -> Bool {
    let parts = host.split(separator: ".", omittingEmptySubsequences: false)
    return parts.count == 4
        && parts.allSatisfy { part in
            guard let value = Int(part), (0...255).contains(value) else { return false }
            return String(value) == part  // no sign, no leading zeros after the parser's normalisation
        }
}

func checkPORT(_ text: String) {
    guard let address = try? HostPort.parsePORT(text) else { return }
    check(address.family == .ipv4 && isIPv4(address.host), "PORT \(text.debugDescription) gave host \(address)")
    check((0...65535).contains(address.port), "PORT \(text.debugDescription) gave port \(address.port)")
    let octets = address.host.split(separator: ".").joined(separator: ",")
    let again = "\(octets),\(address.port >> 8),\(address.port & 0xFF)"
    check((try? HostPort.parsePORT(again)) == address, "PORT round trip \(text.debugDescription) -> \(again)")
}

func checkEPRT(_ text: String) {
    guard let address = try? HostPort.parseEPRT(text) else { return }
    check((1...65535).contains(address.port), "EPRT \(text.debugDescription) gave port \(address.port)")
    switch address.family {
    case .ipv4:
        check(isIPv4(address.host) || address.host.split(separator: ".").count == 4, "EPRT IPv4 \(address.host)")
    case .ipv6:
        check(address.host.contains(":") && !address.host.contains("|"), "EPRT IPv6 \(address.host)")
    }
    let again = "|\(address.family == .ipv4 ? 1 : 2)|\(address.host)|\(address.port)|"
    check((try? HostPort.parseEPRT(again)) == address, "EPRT round trip \(text.debugDescription) -> \(again)")
}

func checkEPSV(_ text: String) {
    guard case .epsv(let argument)? = try? FTPCommand.parse("EPSV \(text)") else { return }
    switch argument {
    case .any: check(text.isEmpty, "EPSV \(text.debugDescription) read as no argument")
    case .all: check(text.uppercased() == "ALL", "EPSV \(text.debugDescription) read as ALL")
    case .networkProtocol(let number): check(number > 0, "EPSV \(text.debugDescription) gave protocol \(number)")
    }
}

func checkReplies(_ text: String) {
    if let address = HostPort.parsePASVReply(text) {
        check(address.family == .ipv4 && isIPv4(address.host), "227 \(text.debugDescription) gave host \(address)")
        check((0...65535).contains(address.port), "227 \(text.debugDescription) gave port \(address.port)")
    }
    if let port = HostPort.parseEPSVReply(text) {
        check((1...65535).contains(port), "229 \(text.debugDescription) gave port \(port)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(bytes(data, size))
    let octets = input.take(4) + Array(repeating: 0, count: 4)
    let port = Int(input.uint16())
    let text = String(decoding: input.rest(), as: UTF8.self)

    checkPORT(text)
    checkEPRT(text)
    checkEPSV(text)
    checkReplies(text)

    // Ferry's own reply texts read back exactly.
    let pasv = HostPort.pasvReplyText(ipv4: Array(octets.prefix(4)), port: port)
    let expected = HostPort(family: .ipv4, host: octets.prefix(4).map(String.init).joined(separator: "."), port: port)
    check(HostPort.parsePASVReply(pasv) == expected, "227 round trip: \(pasv)")
    if port > 0 {
        let epsv = HostPort.epsvReplyText(port: port)
        check(HostPort.parseEPSVReply(epsv) == port, "229 round trip: \(epsv)")
    }
    return 0
}

runFuzzer(fuzzOne)
