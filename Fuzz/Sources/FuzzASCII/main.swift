// TYPE A line-end conversion on the data connection: `ASCIIDecoder` (uploads, wire to disk) and `ASCIIEncoder`
// (downloads, disk to wire), on any bytes in any network reads.
//
// Input: 8 bytes chunking seed, 1 byte largest read, then the data.
//
// Invariants:
// - The result does not depend on how the data is split into reads (a CRLF across two reads converts like one).
// - Decoding matches a model: CRLF becomes LF, every other byte is kept; nothing is lost or added.
// - Encoding gives no bare LF, and decoding what was encoded gives the original back when it had no CRLF of its own.
import FerryProtocol
import FuzzSupport

func decoded(_ reads: [ArraySlice<UInt8>]) -> [UInt8] {
    var decoder = ASCIIDecoder()
    var out: [UInt8] = []
    for read in reads { out += decoder.decode(read) }
    return out + decoder.finish()
}

func encoded(_ reads: [ArraySlice<UInt8>]) -> [UInt8] {
    var encoder = ASCIIEncoder()
    var out: [UInt8] = []
    for read in reads { out += encoder.encode(read) }
    return out
}

func modelDecode(_ bytes: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    var index = 0
    while index < bytes.count {
        if bytes[index] == 0x0D, index + 1 < bytes.count, bytes[index + 1] == 0x0A {
            index += 1  // drop the CR of a CRLF
            continue
        }
        out.append(bytes[index])
        index += 1
    }
    return out
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(bytes(data, size))
    let seed = input.uint64()
    let largestRead = Int(input.byte() % 32) + 1
    let bytes = input.rest()
    let reads = chunks(bytes, seed: seed, maximum: largestRead)

    let wholeDecoded = decoded([bytes[...]])
    check(wholeDecoded == modelDecode(bytes), "decoding differs from the model")
    check(decoded(reads) == wholeDecoded, "decoding depends on the reads (up to \(largestRead) bytes)")

    let wholeEncoded = encoded([bytes[...]])
    check(encoded(reads) == wholeEncoded, "encoding depends on the reads (up to \(largestRead) bytes)")
    for (index, byte) in wholeEncoded.enumerated() where byte == 0x0A {
        check(index > 0 && wholeEncoded[index - 1] == 0x0D, "a bare LF after encoding at \(index)")
    }
    let hasCRLF = zip(bytes, bytes.dropFirst()).contains { $0 == 0x0D && $1 == 0x0A }
    if !hasCRLF {
        check(decoded(chunks(wholeEncoded, seed: seed, maximum: largestRead)) == bytes, "encode-decode round trip")
    }
    return 0
}

runFuzzer(fuzzOne)
