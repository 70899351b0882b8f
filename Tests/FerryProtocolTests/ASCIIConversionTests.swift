import Testing

@testable import FerryProtocol

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

private func encodeAtOnce(_ input: [UInt8]) -> [UInt8] {
    var encoder = ASCIIEncoder()
    return encoder.encode(input)
}

private func decodeAtOnce(_ input: [UInt8]) -> [UInt8] {
    var decoder = ASCIIDecoder()
    return decoder.decode(input) + decoder.finish()
}

/// Splits `input` at random points (deterministically).
private func randomChunks(_ input: [UInt8], using generator: inout SplitMix64) -> [ArraySlice<UInt8>] {
    var chunks: [ArraySlice<UInt8>] = []
    var start = 0
    while start < input.count {
        let length = Int.random(in: 0...min(5, input.count - start), using: &generator)
        chunks.append(input[start..<start + length])
        start += length
    }
    return chunks
}

private func randomText(using generator: inout SplitMix64) -> [UInt8] {
    let alphabet: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, UInt8(ascii: "a"), UInt8(ascii: "b"), 0x00, 0xFF]
    return (0..<Int.random(in: 0...40, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
}

@Suite("ASCIIEncoder (disk to wire)")
struct ASCIIEncoderTests {
    @Test(arguments: [
        ("a\nb", "a\r\nb"),
        ("\n", "\r\n"),
        ("\n\n", "\r\n\r\n"),
        ("line1\nline2\n", "line1\r\nline2\r\n"),
        ("a\r\nb", "a\r\nb"),  // existing CRLF untouched
        ("a\r\n\nb", "a\r\n\r\nb"),
        ("a\r\r\nb", "a\r\r\nb"),
        ("a\rb", "a\rb"),  // lone CR kept
        ("\r", "\r"),
        ("", ""),
        ("no newline", "no newline"),
        ("é\n日本\n", "é\r\n日本\r\n"),
    ])
    func encodes(input: String, output: String) {
        #expect(encodeAtOnce(bytes(input)) == bytes(output))
    }

    @Test func crAtTheEndOfOneChunkAndLFAtTheStartOfTheNext() {
        var encoder = ASCIIEncoder()
        #expect(encoder.encode(bytes("a\r")) == bytes("a\r"))
        #expect(encoder.encode(bytes("\nb")) == bytes("\nb"))  // no second CR
    }

    @Test func lfAtTheStartOfAChunkAfterAPlainByte() {
        var encoder = ASCIIEncoder()
        #expect(encoder.encode(bytes("a")) == bytes("a"))
        #expect(encoder.encode(bytes("\nb\n")) == bytes("\r\nb\r\n"))
        #expect(encoder.encode(bytes("\n")) == bytes("\r\n"))
    }

    @Test func emptyChunksKeepTheState() {
        var encoder = ASCIIEncoder()
        #expect(encoder.encode(bytes("a\r")) == bytes("a\r"))
        #expect(encoder.encode([UInt8]()) == [])
        #expect(encoder.encode(bytes("\n")) == bytes("\n"))
    }

    @Test func byteByByteEqualsAllAtOnce() {
        let input = bytes("one\ntwo\r\nthree\r\rfour\n\n\r")
        var encoder = ASCIIEncoder()
        let dripped = input.flatMap { encoder.encode([$0]) }
        #expect(dripped == encodeAtOnce(input))
    }

    @Test func randomChunkingEqualsAllAtOnce() {
        var generator = SplitMix64(seed: 0xA5C11)
        for _ in 0..<2000 {
            let input = randomText(using: &generator)
            var encoder = ASCIIEncoder()
            let chunked = randomChunks(input, using: &generator).flatMap { encoder.encode($0) }
            #expect(chunked == encodeAtOnce(input), "\(input)")
        }
    }

    @Test func encodingIsIdempotent() {
        var generator = SplitMix64(seed: 3)
        for _ in 0..<500 {
            let once = encodeAtOnce(randomText(using: &generator))
            #expect(encodeAtOnce(once) == once)
        }
    }

    @Test func acceptsAnyByteCollection() {
        var encoder = ASCIIEncoder()
        let text = "x\ny"
        #expect(encoder.encode(text.utf8) == bytes("x\r\ny"))
        #expect(encoder.encode(bytes("--\n--")[1..<4]) == bytes("-\r\n-"))
    }
}

@Suite("ASCIIDecoder (wire to disk)")
struct ASCIIDecoderTests {
    @Test(arguments: [
        ("a\r\nb", "a\nb"),
        ("\r\n", "\n"),
        ("\r\n\r\n", "\n\n"),
        ("a\nb", "a\nb"),  // bare LF passes through
        ("a\rb", "a\rb"),  // lone CR kept
        ("\r\r\n", "\r\n"),
        ("\r\r", "\r\r"),
        ("a\r", "a\r"),  // trailing CR kept at end of stream
        ("", ""),
        ("é\r\n日本", "é\n日本"),
    ])
    func decodes(input: String, output: String) {
        #expect(decodeAtOnce(bytes(input)) == bytes(output))
    }

    @Test func crAtTheEndOfOneChunkAndLFAtTheStartOfTheNext() {
        var decoder = ASCIIDecoder()
        #expect(decoder.decode(bytes("a\r")) == bytes("a"))  // the CR is held back
        #expect(decoder.decode(bytes("\nb")) == bytes("\nb"))
        #expect(decoder.finish() == [])
    }

    @Test func heldBackCRIsReleasedByANonLFByte() {
        var decoder = ASCIIDecoder()
        #expect(decoder.decode(bytes("a\r")) == bytes("a"))
        #expect(decoder.decode(bytes("b")) == bytes("\rb"))
        #expect(decoder.decode(bytes("\r")) == [])
        #expect(decoder.decode(bytes("\r")) == bytes("\r"))
        #expect(decoder.decode(bytes("\n")) == bytes("\n"))
    }

    @Test func emptyChunksKeepTheState() {
        var decoder = ASCIIDecoder()
        #expect(decoder.decode(bytes("\r")) == [])
        #expect(decoder.decode([UInt8]()) == [])
        #expect(decoder.decode(bytes("\n")) == bytes("\n"))
    }

    @Test func finish() {
        var decoder = ASCIIDecoder()
        #expect(decoder.finish() == [])
        #expect(decoder.decode(bytes("x\r")) == bytes("x"))
        #expect(decoder.finish() == [0x0D])
        #expect(decoder.finish() == [])  // the pending CR is delivered once
        // After finish the decoder starts fresh.
        #expect(decoder.decode(bytes("\nz")) == bytes("\nz"))
        #expect(decoder.finish() == [])
    }

    @Test func byteByByteEqualsAllAtOnce() {
        let input = bytes("one\r\ntwo\rthree\r\r\nfour\n\r")
        var decoder = ASCIIDecoder()
        let dripped = input.flatMap { decoder.decode([$0]) } + decoder.finish()
        #expect(dripped == decodeAtOnce(input))
        #expect(dripped == bytes("one\ntwo\rthree\r\nfour\n\r"))
    }

    @Test func randomChunkingEqualsAllAtOnce() {
        var generator = SplitMix64(seed: 0xDEC0DE)
        for _ in 0..<2000 {
            let input = randomText(using: &generator)
            var decoder = ASCIIDecoder()
            let chunked = randomChunks(input, using: &generator).flatMap { decoder.decode($0) } + decoder.finish()
            #expect(chunked == decodeAtOnce(input), "\(input)")
        }
    }

    /// Disk text without CRLF pairs survives the trip to the wire and back, in any chunking.
    @Test func roundTrip() {
        var generator = SplitMix64(seed: 99)
        for _ in 0..<2000 {
            let original = randomText(using: &generator)
            guard !zip(original, original.dropFirst()).contains(where: { $0 == 0x0D && $1 == 0x0A }) else { continue }
            var encoder = ASCIIEncoder()
            let wire = randomChunks(original, using: &generator).flatMap { encoder.encode($0) }
            // On the wire, every LF is preceded by CR.
            for (index, byte) in wire.enumerated() where byte == 0x0A {
                #expect(index > 0 && wire[index - 1] == 0x0D)
            }
            var decoder = ASCIIDecoder()
            let back = randomChunks(wire, using: &generator).flatMap { decoder.decode($0) } + decoder.finish()
            #expect(back == original, "\(original)")
        }
    }
}
