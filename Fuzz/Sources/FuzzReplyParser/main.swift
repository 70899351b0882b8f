// The client's reply reader: `FTPLineDecoder` (as the client configures it) then `FTPReplyParser`, on any bytes a
// server can send.
//
// Input: 1 byte for the parser's line limit, then the byte stream from the server.
//
// Invariants:
// - Every reply has a code 100-599 and at least one line, and at most `maximumLines + 1` lines: a server that never
//   ends a multi-line reply gets an error, not unbounded memory.
// - The client's readings of reply texts never trap, and read back what Ferry's server writes: the path of a 257
//   reply (`FTPReply.quotedPath`/`unquotedPath`) and the digest of a 213 HASH reply (`HashReply.text`/`hexDigest`),
//   for any path, sent through the wire format, line decoder and parser.
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

/// The one reply that `reply`'s wire format reads back as.
func sentAndReceived(_ reply: FTPReply) -> FTPReply? {
    var parser = FTPReplyParser()
    var received: FTPReply?
    for case .line(let line) in lines(of: Array(reply.wireFormat.utf8)) {
        if let next = try? parser.feed(line) { received = next }
    }
    return received
}

/// `text` stands for any path (a file name may hold anything but "/" and NUL, and here even those).
func checkClientReadings(_ text: String) {
    _ = FTPReply.unquotedPath(text)
    _ = HashReply.hexDigest(fromText: text)
    let path = sanitized(text)  // what survives the wire format

    let pwd = sentAndReceived(FTPReply(.pathCreated, FTPReply.quotedPath(text) + " is the current directory."))
    let readPath = pwd.flatMap { FTPReply.unquotedPath($0.lines[0]) }
    check(
        readPath?.utf8.elementsEqual(path.utf8) == true,
        "257 path \(text.debugDescription) read as \(readPath.debugDescription)"
    )

    let hex = String(text.unicodeScalars.filter { $0.properties.isASCIIHexDigit }.prefix(64)).lowercased()
    let hashText = HashReply.text(algorithm: .sha256, start: 0, end: 99, hexDigest: hex.isEmpty ? "0" : hex, path: text)
    let digest = sentAndReceived(FTPReply(.fileStatus, hashText)).flatMap { HashReply.hexDigest(fromText: $0.lines[0]) }
    check(
        digest == (hex.isEmpty ? "0" : hex),
        "213 digest \(hex) with path \(text.debugDescription) read as \(digest as Any)"
    )
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
        checkClientReadings(reply.lines[0])
    }
    return 0
}

runFuzzer(fuzzOne)
