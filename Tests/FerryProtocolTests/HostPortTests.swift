import Testing

@testable import FerryProtocol

/// Parses `argument` both directly and as a full `PORT`/`EPRT` control line and checks both agree.
private func parse(_ verb: String, _ argument: String) -> Result<HostPort, FTPCommandParseError> {
    let direct = Result { () throws(FTPCommandParseError) -> HostPort in
        if verb == "PORT" { return try HostPort.parsePORT(argument) }
        return try HostPort.parseEPRT(argument)
    }
    let viaCommand = Result { () throws(FTPCommandParseError) -> HostPort in
        switch try FTPCommand.parse(verb + " " + argument) {
        case .port(let target), .eprt(let target): return target
        default: throw FTPCommandParseError(.syntaxError, "unexpected command")
        }
    }
    #expect(direct == viaCommand, "\(verb) \(argument.debugDescription)")
    return direct
}

private func code(_ result: Result<HostPort, FTPCommandParseError>) -> Int? {
    if case .failure(let error) = result { return error.reply.code.rawValue }
    return nil
}

@Suite("HostPort: PORT")
struct PORTTests {
    @Test(arguments: [
        ("127,0,0,1,4,1", "127.0.0.1", 1025),
        ("192,168,1,2,255,255", "192.168.1.2", 65535),
        ("10,0,0,1,0,21", "10.0.0.1", 21),
        ("255,255,255,255,195,80", "255.255.255.255", 50000),
        (" 10, 0, 0, 1, 4, 1 ", "10.0.0.1", 1025),  // spaces around fields are tolerated
        ("010,000,000,001,004,001", "10.0.0.1", 1025),  // leading zeros are decimal, and normalised away
        // Port 0 and low ports parse; the session refuses targets below 1024 and other hosts (no FTP bounce).
        ("0,0,0,0,0,0", "0.0.0.0", 0),
        ("10,0,0,1,0,25", "10.0.0.1", 25),
    ])
    func goodForms(argument: String, host: String, port: Int) {
        #expect(parse("PORT", argument) == .success(HostPort(family: .ipv4, host: host, port: port)))
    }

    @Test(arguments: [
        "256,0,0,1,4,1",  // octet > 255
        "127,0,0,999,4,1",
        "127,0,0,1,256,1",  // port byte > 255
        "127,0,0,1,4,999",
        "127,0,0,1,4",  // 5 fields
        "127,0,0,1,4,1,1",  // 7 fields
        "127,0,0,1",
        "127,0,0,1,4,",
        ",0,0,1,4,1",
        "127,,0,1,4,1",
        ",,,,,",
        "127,0,0,1,-4,1",
        "127,0,0,1,+4,1",
        "127,0,0,1,0004,1",  // 4 digits
        "a,b,c,d,e,f",
        "127.0.0.1,4,1",
        "1 27,0,0,1,4,1",
        "127,0,0,1,4,1 junk",
        "127;0;0;1;4;1",
        "١٢٧,0,0,1,4,1",  // non-ASCII digits
        "127,0,0,1,4,1,",
        "0x7f,0,0,1,4,1",
    ])
    func badForms(argument: String) {
        let result = parse("PORT", argument)
        #expect(
            result == .failure(.init(.syntaxErrorInArguments, "PORT takes h1,h2,h3,h4,p1,p2 with each 0-255."))
        )
    }

    /// What PASV announces, PORT reads back to the same port.
    @Test(arguments: [0, 1, 21, 255, 256, 1023, 1024, 50000, 65280, 65535])
    func pasvTextRoundTrips(port: Int) throws {
        let text = HostPort.pasvReplyText(ipv4: [10, 1, 2, 3], port: port)
        let open = try #require(text.firstIndex(of: "("))
        let close = try #require(text.firstIndex(of: ")"))
        let numbers = String(text[text.index(after: open)..<close])
        #expect(parse("PORT", numbers) == .success(HostPort(family: .ipv4, host: "10.1.2.3", port: port)))
    }
}

@Suite("HostPort: EPRT")
struct EPRTTests {
    @Test(arguments: [
        ("|1|132.235.1.2|6275|", HostPort.Family.ipv4, "132.235.1.2", 6275),
        ("|2|1080::8:800:200C:417A|5282|", .ipv6, "1080::8:800:200C:417A", 5282),
        ("|2|::1|21|", .ipv6, "::1", 21),
        ("|2|::ffff:10.0.0.1|1024|", .ipv6, "::ffff:10.0.0.1", 1024),
        ("|2|fe80::1|65535|", .ipv6, "fe80::1", 65535),
        ("|1|0.0.0.0|1|", .ipv4, "0.0.0.0", 1),
        ("!1!10.0.0.1!2000!", .ipv4, "10.0.0.1", 2000),  // any printable delimiter (RFC 2428 §2)
        ("~2~::1~2000~", .ipv6, "::1", 2000),
        ("|1|010.0.0.1|2000|", .ipv4, "010.0.0.1", 2000),  // kept textually; the socket layer judges it
    ])
    func goodForms(argument: String, family: HostPort.Family, host: String, port: Int) {
        #expect(parse("EPRT", argument) == .success(HostPort(family: family, host: host, port: port)))
    }

    @Test(arguments: [
        "|3|1.2.3.4|80|", "|0|1.2.3.4|80|", "||1.2.3.4|80|", "|a|1.2.3.4|80|", "|12|1.2.3.4|80|", "|3|x|0|",
    ])
    func unsupportedProtocolIs522(argument: String) {
        #expect(
            parse("EPRT", argument)
                == .failure(.init(.unsupportedNetworkProtocol, "Network protocol not supported, use (1,2)"))
        )
    }

    @Test(arguments: [
        "|1|1.2.3.4|0|",
        "|1|1.2.3.4|65536|",
        "|1|1.2.3.4|-1|",
        "|1|1.2.3.4|http|",
        "|1|1.2.3.4||",
        "|1|1.2.3.4| 80|",
        "|1|1.2.3.4|99999999999999999999999|",
    ])
    func badPortsAre501(argument: String) {
        #expect(parse("EPRT", argument) == .failure(.init(.syntaxErrorInArguments, "EPRT port must be 1-65535.")))
    }

    @Test(arguments: [
        "|1|256.1.1.1|80|",
        "|1|1.2.3|80|",
        "|1|1.2.3.4.5|80|",
        "|1|1..3.4|80|",
        "|1|1.2.3.4 |80|",
        "|1| 1.2.3.4|80|",
        "|1|1.2.3.0004|80|",
        "|1|::1|80|",  // IPv6 address with protocol 1
        "|2|1.2.3.4|80|",  // IPv4 address with protocol 2
        "|1|localhost|80|",
        "|2|localhost|80|",
        "|2|fe80::1%eth0|80|",  // zone ids are not accepted
        "|2|::g|80|",
        "|2|:|80|",
        "|2|[::1]|80|",
        "|1||80|",
        "|2||80|",
        "|2|" + String(repeating: "1", count: 44) + "::|80|",  // 46 characters
    ])
    func badAddressesAre501(argument: String) {
        #expect(
            parse("EPRT", argument)
                == .failure(.init(.syntaxErrorInArguments, "EPRT address is not a valid IP address."))
        )
    }

    @Test(arguments: [
        "|1|1.2.3.4|80",  // no closing delimiter
        "1.2.3.4",
        "|1|1.2.3.4|80||",
        "|1|1.2.3.4|80|x",
        "||",
        "|",
        " |1|1.2.3.4|80|",  // a space is not a valid delimiter
        "é1é1.2.3.4é80é",  // nor is a non-ASCII character
        "\u{7F}1\u{7F}1.2.3.4\u{7F}80\u{7F}",
    ])
    func badStructureIs501(argument: String) {
        #expect(
            parse("EPRT", argument) == .failure(.init(.syntaxErrorInArguments, "EPRT takes |proto|address|port|."))
        )
    }

    @Test func protocolIsCheckedBeforeThePort() {
        #expect(code(parse("EPRT", "|3|1.2.3.4|0|")) == 522)
        #expect(code(parse("EPRT", "|1|1.2.3.4|0|")) == 501)
    }

    @Test func explicitPlusSignInPortIsAccepted() {
        // `Int("+80")` is 80; harmless, but documents that the field is not strictly digits.
        #expect(parse("EPRT", "|1|1.2.3.4|+80|") == .success(HostPort(family: .ipv4, host: "1.2.3.4", port: 80)))
    }
}

@Suite("HostPort: literals and reply texts")
struct HostPortTextTests {
    @Test(arguments: [
        ([UInt8]([192, 168, 1, 2]), 50000, "Entering Passive Mode (192,168,1,2,195,80)."),
        ([127, 0, 0, 1], 21, "Entering Passive Mode (127,0,0,1,0,21)."),
        ([10, 0, 0, 1], 256, "Entering Passive Mode (10,0,0,1,1,0)."),
        ([0, 0, 0, 0], 0, "Entering Passive Mode (0,0,0,0,0,0)."),
        ([255, 255, 255, 255], 65535, "Entering Passive Mode (255,255,255,255,255,255)."),
    ])
    func pasvReplyText(octets: [UInt8], port: Int, text: String) {
        #expect(HostPort.pasvReplyText(ipv4: octets, port: port) == text)
    }

    @Test(arguments: [
        (6446, "Entering Extended Passive Mode (|||6446|)"),
        (1, "Entering Extended Passive Mode (|||1|)"),
        (65535, "Entering Extended Passive Mode (|||65535|)"),
    ])
    func epsvReplyText(port: Int, text: String) {
        #expect(HostPort.epsvReplyText(port: port) == text)
    }

    @Test func descriptions() {
        #expect(HostPort(family: .ipv4, host: "1.2.3.4", port: 21).description == "1.2.3.4:21")
        #expect(HostPort(family: .ipv6, host: "::1", port: 21).description == "[::1]:21")
        #expect("\(HostPort(family: .ipv6, host: "fe80::1", port: 2000))" == "[fe80::1]:2000")
    }

    @Test(arguments: [
        ("1.2.3.4", true), ("0.0.0.0", true), ("255.255.255.255", true), ("256.0.0.0", false), ("1.2.3", false),
        ("1.2.3.4.", false), (".1.2.3", false), ("1.2.3.-4", false), ("1.2.3.1000", false), ("a.b.c.d", false),
        ("", false), ("1.2.3.٤", false),
    ])
    func ipv4Literals(text: String, valid: Bool) {
        #expect(HostPort.isIPv4Literal(text) == valid)
    }

    @Test(arguments: [
        ("::", true), ("::1", true), ("fe80::1", true), ("FE80::ABCD", true), ("::ffff:1.2.3.4", true),
        ("1:2:3:4:5:6:7:8", true), (":", false), ("1", false), ("1.2.3.4", false), ("g::1", false),
        ("fe80::1%1", false), ("[::1]", false), ("", false), (String(repeating: "1:", count: 23), false),
    ])
    func ipv6Literals(text: String, valid: Bool) {
        #expect(HostPort.isIPv6Literal(text) == valid)
    }

    @Test func trimmingSpaces() {
        #expect(Substring("  a b  ").trimmingSpaces() == "a b")
        #expect(Substring("   ").trimmingSpaces() == "")
        #expect(Substring("\ta\t").trimmingSpaces() == "\ta\t")
    }
}
