import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@testable import FerryProtocol

private let IAC: UInt8 = 0xFF
private let WILL: UInt8 = 0xFB
private let WONT: UInt8 = 0xFC
private let DO: UInt8 = 0xFD
private let DONT: UInt8 = 0xFE
private let IP: UInt8 = 0xF4
private let DM: UInt8 = 0xF2

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Feeds `chunks` one after another into one decoder, draining every complete unit after each chunk, like
/// `ByteToMessageHandler` does. Records the most bytes left buffered after any decode step.
private struct Feeder {
    var decoder: FTPLineDecoder
    var buffer = ByteBufferAllocator().buffer(capacity: 0)
    var output: [FTPControlLine] = []
    var mostBuffered = 0

    init(maximumLineLength: Int = 16) {
        self.decoder = FTPLineDecoder(maximumLineLength: maximumLineLength)
    }

    mutating func feed(_ chunk: [UInt8]) throws {
        self.buffer.writeBytes(chunk)
        while let unit = try self.decoder.decodeLine(&self.buffer) {
            self.output.append(unit)
        }
        self.mostBuffered = max(self.mostBuffered, self.buffer.readableBytes)
    }

    mutating func feed(_ text: String) throws { try self.feed(bytes(text)) }
}

private func decodeAll(_ input: [UInt8], maximumLineLength: Int = 16) throws -> [FTPControlLine] {
    var feeder = Feeder(maximumLineLength: maximumLineLength)
    try feeder.feed(input)
    return feeder.output
}

private func decodeAll(_ input: String, maximumLineLength: Int = 16) throws -> [FTPControlLine] {
    try decodeAll(bytes(input), maximumLineLength: maximumLineLength)
}

@Suite("FTPLineDecoder.decodeLine")
struct FTPLineDecoderTests {
    @Test(arguments: [
        ("USER a\r\n", [FTPControlLine.line("USER a")]),
        ("USER a\n", [.line("USER a")]),
        ("\r\n", [.line("")]),
        ("\n", [.line("")]),
        ("NOOP\r\nNOOP\nQUIT\r\n", [.line("NOOP"), .line("NOOP"), .line("QUIT")]),
        ("\n\n\n", [.line(""), .line(""), .line("")]),
        ("NO\rOP\r\n", [.line("NO\rOP")]),  // only a CR right before the LF is part of the line end
        ("A\r\r\n", [.line("A\r")]),
        ("RETR résumé.txt\r\n", [.line("RETR résumé.txt")]),
        ("NOOP", []),
        ("NOOP\r", []),
        ("", []),
    ])
    func lines(input: String, expected: [FTPControlLine]) throws {
        #expect(try decodeAll(input, maximumLineLength: 64) == expected)
    }

    @Test func defaultLimit() {
        #expect(FTPLineDecoder().maximumLineLength == 4096 + 512)
        #expect(FTPLineDecoder(maximumLineLength: 16).maximumLineLength == 16)
    }

    @Test func byteByByteFeeding() throws {
        let input = bytes("USER anonymous\r\nPASS x\nCWD /pub/ä\r\n\r\n")
        var feeder = Feeder(maximumLineLength: 64)
        for byte in input { try feeder.feed([byte]) }
        #expect(feeder.output == [.line("USER anonymous"), .line("PASS x"), .line("CWD /pub/ä"), .line("")])
        #expect(feeder.buffer.readableBytes == 0)
    }

    @Test func randomChunkingEqualsOneBuffer() throws {
        var generator = SplitMix64(seed: 0x11E)
        let pieces = ["NOOP", "\r\n", "\n", "\r", "X", String(repeating: "L", count: 20), "é"]
        for _ in 0..<500 {
            var input: [UInt8] = []
            for _ in 0..<Int.random(in: 0...12, using: &generator) {
                input += bytes(pieces.randomElement(using: &generator)!)
            }
            var feeder = Feeder()
            var start = 0
            while start < input.count {
                let length = Int.random(in: 1...min(7, input.count - start), using: &generator)
                try feeder.feed(Array(input[start..<start + length]))
                start += length
            }
            let whole = try decodeAll(input)
            #expect(feeder.output == whole, "\(input)")
            #expect(feeder.mostBuffered <= 16)
        }
    }

    @Test func pipelinedLinesInOneBufferArriveOneAtATime() throws {
        var decoder = FTPLineDecoder(maximumLineLength: 16)
        var buffer = ByteBufferAllocator().buffer(string: "USER a\r\nPASS b\r\nSYST\r\nPAR")
        #expect(try decoder.decodeLine(&buffer) == .line("USER a"))
        #expect(try decoder.decodeLine(&buffer) == .line("PASS b"))
        #expect(try decoder.decodeLine(&buffer) == .line("SYST"))
        #expect(try decoder.decodeLine(&buffer) == nil)
        #expect(buffer.readableBytes == 3)
        buffer.writeString("T\r\n")
        #expect(try decoder.decodeLine(&buffer) == .line("PART"))
        #expect(buffer.readableBytes == 0)
    }

    /// The limit counts every byte before the LF, including a CR: 16 bytes + LF fits, 16 bytes + CRLF does not.
    @Test func limitBoundary() throws {
        let sixteen = String(repeating: "a", count: 16)
        let fifteen = String(repeating: "a", count: 15)
        #expect(try decodeAll(sixteen + "\n") == [.line(sixteen)])
        #expect(try decodeAll(fifteen + "\r\n") == [.line(fifteen)])
        #expect(try decodeAll(sixteen + "\r\n") == [.tooLong])
        #expect(try decodeAll(sixteen + "a\n") == [.tooLong])
        // 16 bytes may wait in the buffer for their LF.
        var feeder = Feeder()
        try feeder.feed(sixteen)
        #expect(feeder.output.isEmpty)
        #expect(feeder.buffer.readableBytes == 16)
        try feeder.feed("\n")
        #expect(feeder.output == [.line(sixteen)])
    }

    @Test func overLongLineIsReportedOnceAndTheNextLineIsDecoded() throws {
        let long = String(repeating: "X", count: 40)
        #expect(try decodeAll(long + "\r\nQUIT\r\n") == [.tooLong, .line("QUIT")])
        #expect(try decodeAll(long + "\n" + long + "\nNOOP\n") == [.tooLong, .tooLong, .line("NOOP")])
        #expect(try decodeAll("NOOP\r\n" + long + "\r\nNOOP\r\n") == [.line("NOOP"), .tooLong, .line("NOOP")])
    }

    @Test func overLongLineAcrossChunksIsReportedOnce() throws {
        var feeder = Feeder()
        try feeder.feed(String(repeating: "X", count: 17))
        #expect(feeder.output.isEmpty)
        #expect(feeder.buffer.readableBytes == 0)  // dropped at once, not buffered
        try feeder.feed("XX")
        try feeder.feed("X\r")
        #expect(feeder.output.isEmpty)
        try feeder.feed("\nNOOP\r\n")
        #expect(feeder.output == [.tooLong, .line("NOOP")])
    }

    /// A client that never sends a newline cannot grow the buffer beyond the limit.
    @Test func endlessLineNeverBuffersMoreThanTheLimit() throws {
        var feeder = Feeder()
        for index in 0..<20_000 {
            try feeder.feed(Array(repeating: UInt8(ascii: "A") &+ UInt8(index % 26), count: 7))
        }
        #expect(feeder.output.isEmpty)
        #expect(feeder.mostBuffered <= 16)
        try feeder.feed("tail\r\nNOOP\r\n")
        #expect(feeder.output == [.tooLong, .line("NOOP")])
        #expect(feeder.buffer.readableBytes == 0)
    }

    @Test func endlessLineInOneHugeChunk() throws {
        var feeder = Feeder()
        try feeder.feed(Array(repeating: UInt8(ascii: "B"), count: 1_000_000))
        #expect(feeder.buffer.readableBytes == 0)
        #expect(feeder.output.isEmpty)
        try feeder.feed("B\nSTAT\n")
        #expect(feeder.output == [.tooLong, .line("STAT")])
    }
}

@Suite("FTPLineDecoder Telnet handling")
struct FTPLineDecoderTelnetTests {
    /// `IAC IP DM ABOR`: a Synch whose IAC went as urgent data to a socket without SO_OOBINLINE; the DM that
    /// arrives alone is a Telnet byte, not part of the command.
    @Test func synchWithoutItsIAC() throws {
        #expect(try decodeAll([IAC, IP, DM] + bytes("ABOR\r\n")) == [.line("ABOR")])
    }

    /// `IAC IP IAC DM ABOR`: what curl and many clients send before ABOR.
    @Test func interruptProcessAndDataMarkBeforeABOR() throws {
        #expect(try decodeAll([IAC, IP, IAC, DM] + bytes("ABOR\r\n")) == [.line("ABOR")])
    }

    /// When the DM is sent as TCP urgent data (the Synch of RFC 959 §4.1.3), it is removed from the in-band
    /// stream and only `IAC IP IAC` arrives before ABOR; the lone IAC is dropped.
    @Test func synchWithOutOfBandDataMark() throws {
        #expect(try decodeAll([IAC, IP, IAC] + bytes("ABOR\r\n")) == [.line("ABOR")])
    }

    @Test func doubledIACIsALiteralFF() throws {
        let lines = try decodeAll(bytes("a") + [IAC, IAC] + bytes("b\r\n"))
        // 0xFF alone is not valid UTF-8, so the literal byte shows up as U+FFFD in the line.
        #expect(lines == [.line("a\u{FFFD}b")])
        #expect(FTPLineDecoder.text(fromTelnet: [IAC, IAC]) == String(decoding: [0xFF as UInt8], as: UTF8.self))
        // Four IACs are two literal bytes.
        #expect(FTPLineDecoder.text(fromTelnet: [IAC, IAC, IAC, IAC]).unicodeScalars.count == 2)
    }

    @Test(arguments: [WILL, WONT, DO, DONT])
    func negotiationIsRemoved(command: UInt8) throws {
        #expect(try decodeAll(bytes("NO") + [IAC, command, 0x01] + bytes("OP\r\n")) == [.line("NOOP")])
        #expect(try decodeAll([IAC, command, 0x22] + bytes("NOOP\r\n")) == [.line("NOOP")])
        // The option byte is consumed whatever it is, even an IAC or a CR.
        #expect(try decodeAll([IAC, command, IAC] + bytes("NOOP\r\n")) == [.line("NOOP")])
        #expect(try decodeAll(bytes("NOOP") + [IAC, command] + bytes("\r\n")) == [.line("NOOP")])
    }

    @Test(arguments: Array(UInt8(0xF0)...UInt8(0xFA)))
    func twoByteCommandsAreRemoved(command: UInt8) throws {
        #expect(try decodeAll(bytes("NO") + [IAC, command] + bytes("OP\r\n")) == [.line("NOOP")])
    }

    @Test func loneIACIsDropped() throws {
        #expect(try decodeAll([IAC] + bytes("ABOR\r\n")) == [.line("ABOR")])
        #expect(try decodeAll(bytes("NOOP") + [IAC] + bytes("\r\n")) == [.line("NOOP")])
        #expect(try decodeAll(bytes("NOOP") + [IAC] + bytes("\n")) == [.line("NOOP")])
    }

    @Test func telnetBytesCountTowardTheLimit() throws {
        // 12 bytes of Telnet commands + "ABOR" = 16 bytes: fits; one more does not.
        let commands = [IAC, IP, IAC, DM, IAC, IP, IAC, DM, IAC, IP, IAC, DM]
        #expect(try decodeAll(commands + bytes("ABOR\n")) == [.line("ABOR")])
        #expect(try decodeAll(commands + bytes("ABOR\r\n")) == [.tooLong])
    }

    @Test(arguments: [
        ([UInt8](bytes("RETR ")) + [0xC3, 0x28], "RETR \u{FFFD}("),
        (bytes("CWD ") + [0x80], "CWD \u{FFFD}"),
        (bytes("CWD ") + [0xE2, 0x82], "CWD \u{FFFD}"),
        (bytes("MKD ") + [0xF0, 0x9F, 0x93, 0x84], "MKD 📄"),
        (bytes("MKD ") + [0xC3, 0xA9], "MKD é"),
        (bytes("MKD ") + [0xED, 0xA0, 0x80], "MKD \u{FFFD}\u{FFFD}\u{FFFD}"),  // an encoded surrogate
    ])
    func utf8Decoding(input: [UInt8], text: String) throws {
        #expect(try decodeAll(input + bytes("\r\n"), maximumLineLength: 64) == [.line(text)])
    }

    @Test func nulBytesPassThroughForTheParserToRefuse() throws {
        #expect(try decodeAll(bytes("RETR a") + [0] + bytes("b\r\n")) == [.line("RETR a\u{0}b")])
    }
}

@Suite("FTPLineDecoder in a channel pipeline")
struct FTPLineDecoderChannelTests {
    @Test func verifierWithStrings() throws {
        try ByteToMessageDecoderVerifier.verifyDecoder(
            stringInputOutputPairs: [
                ("NOOP\r\n", [FTPControlLine.line("NOOP")]),
                ("USER bob\n", [.line("USER bob")]),
                ("\r\n", [.line("")]),
                ("LIST\r\nPWD\r\n", [.line("LIST"), .line("PWD")]),
                (String(repeating: "Z", count: 30) + "\r\n", [.tooLong]),
                (String(repeating: "Z", count: 30) + "\r\nQUIT\r\n", [.tooLong, .line("QUIT")]),
                ("RETR ü\r\n", [.line("RETR ü")]),
            ],
            decoderFactory: { FTPLineDecoder(maximumLineLength: 16) }
        )
    }

    @Test func verifierWithTelnetBytes() throws {
        let allocator = ByteBufferAllocator()
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [
                (allocator.buffer(bytes: [IAC, IP, IAC, DM] + bytes("ABOR\r\n")), [FTPControlLine.line("ABOR")]),
                (allocator.buffer(bytes: [IAC, IP, IAC] + bytes("ABOR\r\n")), [.line("ABOR")]),
                (allocator.buffer(bytes: bytes("NO") + [IAC, WILL, 1] + bytes("OP\n")), [.line("NOOP")]),
                (allocator.buffer(bytes: bytes("a") + [IAC, IAC] + bytes("\r\n")), [.line("a\u{FFFD}")]),
            ],
            decoderFactory: { FTPLineDecoder(maximumLineLength: 16) }
        )
    }

    @Test func embeddedChannel() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FTPLineDecoder(maximumLineLength: 16)))
        func write(_ data: [UInt8]) throws {
            try channel.writeInbound(channel.allocator.buffer(bytes: data))
        }
        try write(bytes("USER anonymous\r"))
        #expect(try channel.readInbound(as: FTPControlLine.self) == nil)
        try write(bytes("\nPASS a@b\r\nSY"))
        #expect(try channel.readInbound(as: FTPControlLine.self) == .line("USER anonymous"))
        #expect(try channel.readInbound(as: FTPControlLine.self) == .line("PASS a@b"))
        #expect(try channel.readInbound(as: FTPControlLine.self) == nil)
        try write(bytes("ST\r\n"))
        #expect(try channel.readInbound(as: FTPControlLine.self) == .line("SYST"))
        // An over-long line in many small writes, then a normal one.
        for _ in 0..<1000 { try write(bytes("xxxxx")) }
        #expect(try channel.readInbound(as: FTPControlLine.self) == nil)
        try write(bytes("\r\nNOOP\r\n"))
        #expect(try channel.readInbound(as: FTPControlLine.self) == .tooLong)
        #expect(try channel.readInbound(as: FTPControlLine.self) == .line("NOOP"))
        #expect(try channel.readInbound(as: FTPControlLine.self) == nil)
        // Telnet interrupt before ABOR.
        try write([IAC, IP, IAC, DM] + bytes("ABOR\r\n"))
        #expect(try channel.readInbound(as: FTPControlLine.self) == .line("ABOR"))
        #expect(try channel.finish().isClean)
    }

    /// A partial line when the client goes away is not a command.
    @Test func partialLineAtEOFIsNotEmitted() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FTPLineDecoder(maximumLineLength: 16)))
        try channel.writeInbound(channel.allocator.buffer(string: "NOOP\r\nDELE important"))
        #expect(try channel.readInbound(as: FTPControlLine.self) == .line("NOOP"))
        let state = try channel.finish()
        #expect(state.isClean)
        #expect(try channel.readInbound(as: FTPControlLine.self) == nil)
    }

    @Test func inputClosedDeliversCompleteLinesOnly() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FTPLineDecoder(maximumLineLength: 16)))
        try channel.writeInbound(channel.allocator.buffer(string: "QUIT\r\nQU"))
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(try channel.readInbound(as: FTPControlLine.self) == .line("QUIT"))
        #expect(try channel.readInbound(as: FTPControlLine.self) == nil)
        #expect(try channel.finish().isClean)
    }

    @Test func partialLineWaitsForMoreData() throws {
        var decoder = FTPLineDecoder(maximumLineLength: 16)
        var buffer = ByteBufferAllocator().buffer(string: "RETR x")
        #expect(try decoder.decodeLine(&buffer) == nil)
        #expect(buffer.readableBytes == 6)
    }
}
