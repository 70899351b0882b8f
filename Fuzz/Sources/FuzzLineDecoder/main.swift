// The server's (and client's) control-connection line decoder, `FTPLineDecoder`.
//
// Input: 1 byte line limit, 8 bytes chunking seed, 1 byte largest chunk, then the byte stream.
//
// Invariants:
// - The stream in one read and the same stream in many reads give the same lines: no byte is lost, duplicated or
//   moved across a line end at a read boundary.
// - Both match a model written from the rules: one unit per LF; `.tooLong` exactly when the line (CR included)
//   is longer than the limit; otherwise the line with Telnet sequences and one trailing CR removed.
// - Whenever the decoder waits for more bytes, it holds at most `maximumLineLength` of them (no unbounded buffering).
import FerryProtocol
import FuzzSupport
import NIOCore

func decode(_ reads: [ArraySlice<UInt8>], limit: Int) -> [FTPControlLine] {
    var decoder = FTPLineDecoder(maximumLineLength: limit)
    var buffer = ByteBuffer()
    var lines: [FTPControlLine] = []
    for read in reads {
        buffer.writeBytes(read)
        // As `ByteToMessageHandler` does: decode until the decoder asks for more data.
        while true {
            guard let line = try? decoder.decodeLine(&buffer) else { break }
            lines.append(line)
        }
        check(
            buffer.readableBytes <= limit,
            "decoder holds \(buffer.readableBytes) bytes of a line, limit \(limit)"
        )
        // The handler may compact its buffer between reads; the decoder must not depend on the reader index.
        buffer.discardReadBytes()
    }
    return lines
}

/// RFC 854 as the decoder documents it, written independently as a state machine.
func modelText(_ line: ArraySlice<UInt8>) -> String {
    enum State { case data, iac, option, afterInterrupt }
    var state = State.data
    var out: [UInt8] = []
    for byte in line {
        switch state {
        case .afterInterrupt where byte == 0xF2:
            state = .data  // IAC IP, then a DM whose IAC went as urgent data: a Telnet byte, dropped
        case .data, .afterInterrupt:
            if byte == 0xFF {
                state = .iac
            } else {
                out.append(byte)
                state = .data
            }
        case .iac:
            switch byte {
            case 0xFF:
                out.append(0xFF)
                state = .data
            case 0xFB...0xFE:
                state = .option  // WILL/WONT/DO/DONT: one option byte follows
            case 0xF4:
                state = .afterInterrupt  // IAC IP (interrupt process), before ABOR
            case 0xF0...0xFA:
                state = .data  // a two-byte command
            default:
                out.append(byte)  // a lone IAC is dropped, the byte after it is data
                state = .data
            }
        case .option:
            state = .data
        }
    }
    if out.last == 0x0D { out.removeLast() }
    return String(decoding: out, as: UTF8.self)
}

func model(_ stream: [UInt8], limit: Int) -> [FTPControlLine] {
    var lines: [FTPControlLine] = []
    var start = 0
    for (index, byte) in stream.enumerated() where byte == 0x0A {
        let line = stream[start..<index]
        lines.append(line.count > limit ? .tooLong : .line(modelText(line)))
        start = index + 1
    }
    // A partial line at the end is not a line (the peer has not finished it).
    return lines
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(bytes(data, size))
    let limit = Int(input.byte() % 100) + 1
    let seed = input.uint64()
    let largestRead = Int(input.byte() % 64) + 1
    let stream = input.rest()

    let whole = decode([stream[...]], limit: limit)
    let split = decode(chunks(stream, seed: seed, maximum: largestRead), limit: limit)
    let expected = model(stream, limit: limit)
    check(whole == expected, "one read: \(whole) != model \(expected)")
    check(split == expected, "reads of up to \(largestRead) bytes: \(split) != model \(expected)")
    for case .line(let text) in whole {
        check(!text.utf8.contains(0x0A), "a line holds an LF: \(text.debugDescription)")
    }
    return 0
}

runFuzzer(fuzzOne)
