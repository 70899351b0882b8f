// The client's reply reader: `FTPLineDecoder` (as the client configures it) then `FTPReplyParser`, on any bytes a
// server can send.
//
// Input: 1 byte for the parser's line limit, then the byte stream from the server.
//
// Invariants:
// - Every reply has a code 100-599 and at least one line, and at most `maximumLines + 1` lines: a server that never
//   ends a multi-line reply gets an error, not unbounded memory.
// - Round trip: a reply written in the wire format (`FTPReply.wireFormat`, what Ferry's server sends) and read back
//   gives the same code and lines, except for what the writer changes on purpose (CR/LF/NUL replaced by a space; a
//   middle line that starts with three digits indented by one space).
import FerryProtocol
import FuzzSupport
import NIOCore

func lines(of bytes: [UInt8]) -> [FTPControlLine] {
    var decoder = FTPLineDecoder(maximumLineLength: 1 << 16)
    var buffer = ByteBuffer(bytes: bytes)
    var result: [FTPControlLine] = []
    while let line = try? decoder.decodeLine(&buffer) { result.append(line) }
    return result
}

func sanitized(_ text: String) -> String {
    String(String.UnicodeScalarView(text.unicodeScalars.map { $0 == "\r" || $0 == "\n" || $0 == "\0" ? " " : $0 }))
}

func checkRoundTrip(_ reply: FTPReply) {
    var parser = FTPReplyParser()
    var readBack: [FTPReply] = []
    for case .line(let line) in lines(of: Array(reply.wireFormat.utf8)) {
        do {
            if let next = try parser.feed(line) { readBack.append(next) }
        } catch {
            check(false, "Ferry's own wire format \(reply.wireFormat.debugDescription) is malformed at \(line)")
        }
    }
    check(readBack.count == 1, "\(reply.wireFormat.debugDescription) read back as \(readBack.count) replies")
    let back = readBack[0]
    check(back.code == reply.code, "code \(reply.code) read back as \(back.code)")
    check(back.lines.count == reply.lines.count, "\(reply.lines) read back as \(back.lines)")
    for (index, (sent, received)) in zip(reply.lines, back.lines).enumerated() {
        let clean = sanitized(sent)
        let middle = index > 0 && index < reply.lines.count - 1
        let indented =
            middle && clean.utf8.prefix(3).count == 3 && clean.utf8.prefix(3).allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        let expected = indented ? " " + clean : clean
        check(
            received.utf8.elementsEqual(expected.utf8),
            "line \(index) \(sent.debugDescription) read back as \(received.debugDescription)"
        )
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(bytes(data, size))
    let maximumLines = Int(input.byte() % 16) + 1
    var parser = FTPReplyParser(maximumLines: maximumLines)
    for case .line(let line) in lines(of: input.rest()) {
        let reply: FTPReply?
        do {
            reply = try parser.feed(line)
        } catch {
            // The client drops the connection on a malformed reply; start afresh as a new connection would.
            parser = FTPReplyParser(maximumLines: maximumLines)
            continue
        }
        guard let reply else { continue }
        check((100...599).contains(reply.code.rawValue), "reply code \(reply.code)")
        check(!reply.lines.isEmpty && reply.lines.count <= maximumLines + 1, "\(reply.lines.count) lines")
        checkRoundTrip(reply)
    }
    return 0
}

runFuzzer(fuzzOne)
