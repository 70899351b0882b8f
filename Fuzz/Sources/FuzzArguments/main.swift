// Argument parsers of the server's extension commands, which the session applies after `FTPCommand.parse`: RANG
// (`ByteRange`), XCRC/XMD5/XSHA* (`LegacyChecksumRequest`), OPTS HASH (`HashAlgorithm`), OPTS MLST (`MLSFact`);
// and `ByteSize` (sizes typed on the command line and in the configuration).
//
// Input: 8 bytes a file size, then the argument text, given to every parser.
//
// Invariants:
// - RANG gives 0 <= start <= end, a positive count, and a range clamped to a file that lies inside it and starts
//   at `start`; the range written back as "start end" parses to the same range.
// - A legacy checksum request has a non-empty path without NUL within the length limit, its byte range for a file
//   lies inside the file, and the request written back in the quoted form parses to the same request.
// - OPTS HASH and OPTS MLST selections read back from what the server writes about them.
// - ByteSize never traps and never gives a negative size.
import FerryProtocol
import FuzzSupport

func checkRANG(_ text: String, fileSize: Int64) {
    guard let range = try? ByteRange.parseRANG(text) else { return }
    check(0 <= range.start && range.start <= range.end, "RANG \(text.debugDescription) gave \(range)")
    check(range.count >= 1, "RANG \(text.debugDescription) selects \(range.count) bytes")
    let again = "\(range.start) \(range.end)"
    check((try? ByteRange.parseRANG(again)) == range, "RANG round trip \(text.debugDescription) -> \(again)")
    if let bytes = try? range.clamped(toFileSize: fileSize) {
        check(bytes.lowerBound == range.start && !bytes.isEmpty, "RANG \(range) clamped to \(bytes)")
        check(bytes.upperBound <= fileSize && bytes.upperBound - 1 <= range.end, "RANG \(range) clamped to \(bytes)")
    } else {
        check(range.start >= fileSize, "RANG \(range) refused for a file of \(fileSize) bytes")
    }
}

func quoted(_ path: String) -> String {
    "\"" + String(String.UnicodeScalarView(path.unicodeScalars.flatMap { $0 == "\"" ? [$0, $0] : [$0] })) + "\""
}

func checkLegacy(_ text: String, fileSize: Int64) {
    guard let request = try? LegacyChecksumRequest.parse(text) else { return }
    check(!request.path.isEmpty && !request.path.utf8.contains(0), "XCRC \(text.debugDescription) path")
    check(request.path.utf8.count <= FTPCommand.maximumPathLength, "XCRC path of \(request.path.utf8.count) bytes")
    check(request.start == nil || request.end != nil, "XCRC \(text.debugDescription) has a start but no end")
    var again = quoted(request.path)
    if let start = request.start { again += " \(start)" }
    if let end = request.end { again += " \(end)" }
    let reparsed = try? LegacyChecksumRequest.parse(again)
    check(
        reparsed?.path.utf8.elementsEqual(request.path.utf8) == true && reparsed?.start == request.start
            && reparsed?.end == request.end,
        "XCRC round trip \(text.debugDescription) -> \(again.debugDescription) -> \(reparsed as Any)"
    )
    if let range = try? LegacyChecksumRequest.byteRange(start: request.start, end: request.end, fileSize: fileSize) {
        check(range.lowerBound >= 0 && range.upperBound <= fileSize, "XCRC range \(range) for \(fileSize) bytes")
    }
}

func checkOptions(_ text: String) {
    if let algorithm = try? HashAlgorithm.parseOPTS(text) {
        check(HashAlgorithm(name: algorithm.name) == algorithm, "OPTS HASH \(algorithm.name) does not read back")
        check(HashAlgorithm(legacyVerb: algorithm.legacyVerb) != nil, "no legacy verb for \(algorithm)")
    }
    let selection = MLSFact.parseSelection(text)
    check(MLSFact.parseSelection(MLSFact.selectionText(selection)) == selection, "OPTS MLST \(text.debugDescription)")
    check(
        MLSFact.parseSelection(MLSFact.featLine(enabled: selection).dropFirst(5).filter { $0 != "*" })
            == Set(MLSFact.allCases),
        "FEAT MLST line"
    )
}

func checkByteSize(_ text: String, number: Int64) {
    if let size = try? ByteSize.parse(text) {
        check(size >= 0, "ByteSize \(text.debugDescription) gave \(size)")
        _ = ByteSize.format(size)
    }
    let positive = number & Int64.max
    check((try? ByteSize.parse(String(positive))) == positive, "ByteSize round trip of \(positive)")
    _ = ByteSize.format(number)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(bytes(data, size))
    let number = Int64(bitPattern: input.uint64())
    let fileSize = number & 0xFFFF_FFFF_FFFF  // up to 256 TiB
    let text = String(decoding: input.rest(), as: UTF8.self)
    checkRANG(text, fileSize: fileSize)
    checkLegacy(text, fileSize: fileSize)
    checkOptions(text)
    checkByteSize(text, number: number)
    return 0
}

runFuzzer(fuzzOne)
