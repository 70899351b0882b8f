import CZlib
import Crypto
import FerryProtocol
import NIOCore

/// An incremental digest for any `HashAlgorithm`: feed bytes in pieces, then read the digest.
///
/// The SHA and MD5 digests come from swift-crypto (BoringSSL on Linux, CryptoKit on Apple platforms). CRC32 comes
/// from zlib's `crc32()`, the IEEE 802.3 polynomial used by zip, gzip, PNG, `cksum -a crc` and Python's `zlib.crc32`.
/// Its 4-byte digest is big-endian, so its hex form is the usual 8-digit one (`format(zlib.crc32(b), '08x')`).
///
///     var digest = StreamingDigest(.sha256)
///     digest.update(contentsOf: Array("abc".utf8))
///     StreamingDigest.hex(digest.finalize())  // "ba7816bf…"
public struct StreamingDigest: Sendable {
    public let algorithm: HashAlgorithm
    private var state: State

    private enum State: Sendable {
        case sha256(SHA256)
        case sha512(SHA512)
        case sha1(Insecure.SHA1)
        case md5(Insecure.MD5)
        case crc32(UInt32)
        /// Held only for the duration of an update, so the hasher being updated is the sole owner of its context
        /// (the BoringSSL-backed hashers copy their context when it is shared).
        case moving
    }

    public init(_ algorithm: HashAlgorithm) {
        self.algorithm = algorithm
        switch algorithm {
        case .sha256: self.state = .sha256(SHA256())
        case .sha512: self.state = .sha512(SHA512())
        case .sha1: self.state = .sha1(Insecure.SHA1())
        case .md5: self.state = .md5(Insecure.MD5())
        case .crc32: self.state = .crc32(0)
        }
    }

    /// Adds bytes to the digest.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        let state = self.state
        self.state = .moving
        switch state {
        case .sha256(var hasher):
            hasher.update(bufferPointer: bytes)
            self.state = .sha256(hasher)
        case .sha512(var hasher):
            hasher.update(bufferPointer: bytes)
            self.state = .sha512(hasher)
        case .sha1(var hasher):
            hasher.update(bufferPointer: bytes)
            self.state = .sha1(hasher)
        case .md5(var hasher):
            hasher.update(bufferPointer: bytes)
            self.state = .md5(hasher)
        case .crc32(let crc):
            self.state = .crc32(Self.crc32(crc, bytes))
        case .moving:
            preconditionFailure("StreamingDigest state lost")
        }
    }

    /// Adds bytes from any collection: `[UInt8]`, `ArraySlice`, `ByteBuffer.readableBytesView`, `Data`. Contiguous
    /// collections are hashed in place; others are copied once.
    public mutating func update(contentsOf bytes: some Collection<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            self.update(UnsafeRawBufferPointer(buffer))
        }
        if done == nil {
            Array(bytes).withUnsafeBytes { self.update($0) }
        }
    }

    /// Adds the readable bytes of a buffer without moving its reader index.
    public mutating func update(contentsOf buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { self.update($0) }
    }

    /// The digest of everything added so far.
    ///
    /// Non-mutating: the state is left as it is, so more bytes may be added afterwards and `finalize()` called again
    /// for a running digest. swift-crypto's `finalize()` works on a copy of the hasher's context.
    public func finalize() -> [UInt8] {
        switch self.state {
        case .sha256(let hasher): return Array(hasher.finalize())
        case .sha512(let hasher): return Array(hasher.finalize())
        case .sha1(let hasher): return Array(hasher.finalize())
        case .md5(let hasher): return Array(hasher.finalize())
        case .crc32(let crc):
            return [
                UInt8(truncatingIfNeeded: crc >> 24), UInt8(truncatingIfNeeded: crc >> 16),
                UInt8(truncatingIfNeeded: crc >> 8), UInt8(truncatingIfNeeded: crc),
            ]
        case .moving:
            preconditionFailure("StreamingDigest state lost")
        }
    }

    /// Lower-case hex, two digits per byte: the form HASH replies use (draft-bryan-ftpext-hash-02 §3). Legacy
    /// replies upper-case it (`LegacyChecksumReply`).
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            var index = 0
            for byte in bytes {
                out[index] = digits[Int(byte >> 4)]
                out[index + 1] = digits[Int(byte & 0x0F)]
                index += 2
            }
            return index
        }
    }

    /// zlib's `crc32()` takes its length as a 32-bit `uInt`, so longer buffers go in pieces of at most 1 GiB.
    static let crc32PieceSize = 1 << 30

    private static func crc32(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var value = UInt(crc)
        var offset = 0
        while offset < bytes.count {
            let length = min(bytes.count - offset, Self.crc32PieceSize)
            let start = bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: Bytef.self)
            value = CZlib.crc32(value, start, uInt(length))
            offset += length
        }
        return UInt32(truncatingIfNeeded: value)
    }
}
