import FerryProtocol
import NIOCore
import Testing

@testable import FerryIntegrity

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Published test vectors (FIPS 180 examples, RFC 1321, and the usual CRC-32 values), checked against Python's
/// hashlib and zlib.
private let vectors: [(input: String, expected: [HashAlgorithm: String])] = [
    (
        "",
        [
            .sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            .sha512: "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
                + "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
            .sha1: "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            .md5: "d41d8cd98f00b204e9800998ecf8427e",
            .crc32: "00000000",
        ]
    ),
    (
        "abc",
        [
            .sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            .sha512: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                + "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            .sha1: "a9993e364706816aba3e25717850c26c9cd0d89d",
            .md5: "900150983cd24fb0d6963f7d28e17f72",
            .crc32: "352441c2",
        ]
    ),
    (
        "The quick brown fox jumps over the lazy dog",
        [
            .sha256: "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592",
            .sha512: "07e547d9586f6a73f73fbac0435ed76951218fb7d0c8d788a309d785436bbb64"
                + "2e93a252a954f23912547d1e8a3b5ed6e1bfd7097821233fa0538f3db854fee6",
            .sha1: "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12",
            .md5: "9e107d9d372bb6826bd81d3542a419d6",
            .crc32: "414fa339",
        ]
    ),
]

private func hexDigest(_ algorithm: HashAlgorithm, _ bytes: [UInt8]) -> String {
    var digest = StreamingDigest(algorithm)
    digest.update(contentsOf: bytes)
    return StreamingDigest.hex(digest.finalize())
}

@Suite("StreamingDigest")
struct StreamingDigestTests {
    @Test("known test vectors", arguments: HashAlgorithm.allCases)
    func knownVectors(algorithm: HashAlgorithm) {
        for vector in vectors {
            let hex = hexDigest(algorithm, Array(vector.input.utf8))
            #expect(hex == vector.expected[algorithm], "\(algorithm) of \"\(vector.input)\"")
            #expect(hex.utf8.count == algorithm.hexDigestLength)
            #expect(StreamingDigest(algorithm).finalize().count == algorithm.digestByteCount)
        }
    }

    @Test("byte-by-byte updates equal one update", arguments: HashAlgorithm.allCases)
    func piecewise(algorithm: HashAlgorithm) {
        let input = Array("The quick brown fox jumps over the lazy dog".utf8)
        var digest = StreamingDigest(algorithm)
        for byte in input {
            digest.update(contentsOf: [byte])
        }
        digest.update(contentsOf: [UInt8]())
        #expect(StreamingDigest.hex(digest.finalize()) == hexDigest(algorithm, input))
    }

    @Test("finalize leaves the state alone: a running digest", arguments: HashAlgorithm.allCases)
    func finalizeIsNonMutating(algorithm: HashAlgorithm) {
        var digest = StreamingDigest(algorithm)
        digest.update(contentsOf: Array("ab".utf8))
        #expect(digest.finalize() == digest.finalize())
        #expect(StreamingDigest.hex(digest.finalize()) == hexDigest(algorithm, Array("ab".utf8)))
        digest.update(contentsOf: Array("c".utf8))
        #expect(StreamingDigest.hex(digest.finalize()) == vectors[1].expected[algorithm])
    }

    @Test("copies are independent (value semantics)")
    func valueSemantics() {
        var first = StreamingDigest(.sha256)
        first.update(contentsOf: Array("ab".utf8))
        var second = first
        second.update(contentsOf: Array("c".utf8))
        #expect(StreamingDigest.hex(first.finalize()) == hexDigest(.sha256, Array("ab".utf8)))
        #expect(StreamingDigest.hex(second.finalize()) == vectors[1].expected[.sha256])
    }

    @Test("ByteBuffer, its readable view, slices and non-contiguous collections")
    func collectionsAndBuffers() {
        let expected = vectors[2].expected[.sha1]
        var buffer = ByteBuffer(string: "xxThe quick brown fox jumps over the lazy dog")
        buffer.moveReaderIndex(forwardBy: 2)

        var fromBuffer = StreamingDigest(.sha1)
        fromBuffer.update(contentsOf: buffer)
        #expect(StreamingDigest.hex(fromBuffer.finalize()) == expected)
        #expect(buffer.readableBytes == 43, "the reader index does not move")

        var fromView = StreamingDigest(.sha1)
        fromView.update(contentsOf: buffer.readableBytesView)
        #expect(StreamingDigest.hex(fromView.finalize()) == expected)

        let bytes = Array("--The quick brown fox jumps over the lazy dog--".utf8)
        var fromSlice = StreamingDigest(.sha1)
        fromSlice.update(contentsOf: bytes[2..<45])
        #expect(StreamingDigest.hex(fromSlice.finalize()) == expected)

        var fromLazy = StreamingDigest(.sha1)
        fromLazy.update(contentsOf: "The quick brown fox jumps over the lazy dog".utf8.lazy.map { $0 })
        #expect(StreamingDigest.hex(fromLazy.finalize()) == expected)
    }

    @Test("hex is lower case with two digits per byte")
    func hex() {
        #expect(StreamingDigest.hex([]) == "")
        #expect(StreamingDigest.hex([0x00, 0x0F, 0xA0, 0xFF]) == "000fa0ff")
    }

    @Test("CRC32 is written as 8 big-endian hex digits, leading zeros kept")
    func crc32Padding() {
        // zlib.crc32(b"a") == 0xe8b7be43; zlib.crc32(b"\x00" * 3) == 0xff41d912.
        #expect(hexDigest(.crc32, Array("a".utf8)) == "e8b7be43")
        #expect(hexDigest(.crc32, [0, 0, 0]) == "ff41d912")
        // format(zlib.crc32(b"62"), "08x") == "0012d20a": the leading zeros stay.
        #expect(hexDigest(.crc32, Array("62".utf8)) == "0012d20a")
    }

    @Test("CRC32 over one buffer larger than 4 GiB equals the same bytes fed in 1 MiB pieces")
    func crc32BeyondFourGiB() throws {
        // Untouched anonymous pages read as zeros from the shared zero page, so this costs no real memory.
        let size = (1 << 32) + (3 << 20) + 5
        let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        try #require(mapping != MAP_FAILED && mapping != nil)
        defer { munmap(mapping, size) }
        let whole = UnsafeRawBufferPointer(start: mapping, count: size)

        var oneUpdate = StreamingDigest(.crc32)
        oneUpdate.update(whole)

        var pieces = StreamingDigest(.crc32)
        var offset = 0
        while offset < size {
            let length = min(1 << 20, size - offset)
            pieces.update(UnsafeRawBufferPointer(rebasing: whole[offset..<(offset + length)]))
            offset += length
        }
        #expect(oneUpdate.finalize() == pieces.finalize())
        #expect(oneUpdate.finalize() != StreamingDigest(.crc32).finalize())
    }
}
