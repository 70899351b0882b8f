import FerryIntegrity
import FerryProtocol
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#endif

/// Which version of which file a digest belongs to, or an upload began with: the inode and everything that changes
/// when its content may have changed (size, modification time, and change time, which also moves on a rename or
/// `touch -m`).
struct FileVersion: Hashable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Int64
    var modifiedNanoseconds: Int
    var changed: Int64
    var changedNanoseconds: Int

    init(_ info: stat) {
        self.device = UInt64(info.st_dev)
        self.inode = UInt64(info.st_ino)
        self.size = Int64(info.st_size)
        self.modified = Int64(info.st_mtim.tv_sec)
        self.modifiedNanoseconds = Int(info.st_mtim.tv_nsec)
        self.changed = Int64(info.st_ctim.tv_sec)
        self.changedNanoseconds = Int(info.st_ctim.tv_nsec)
    }
}

/// Whole-file digests remembered by file version, so `HASH` after an upload (or a repeated `HASH`) answers without
/// reading the file again. An entry is used only while the file's version is exactly the one it was computed for:
/// any write, truncation, rename or `touch` makes it miss.
final class DigestCache: Sendable {
    private struct Entry {
        var version: FileVersion
        var digests: [HashAlgorithm: String]
    }

    private struct Key: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    private let entries = NIOLockedValueBox<[Key: Entry]>([:])
    let capacity: Int

    init(capacity: Int = 4096) {
        self.capacity = capacity
    }

    func lookup(_ version: FileVersion, algorithm: HashAlgorithm) -> String? {
        self.entries.withLockedValue { entries in
            guard let entry = entries[Key(device: version.device, inode: version.inode)], entry.version == version
            else { return nil }
            return entry.digests[algorithm]
        }
    }

    func remember(_ version: FileVersion, algorithm: HashAlgorithm, hex: String) {
        self.entries.withLockedValue { entries in
            let key = Key(device: version.device, inode: version.inode)
            if var entry = entries[key], entry.version == version {
                entry.digests[algorithm] = hex
                entries[key] = entry
                return
            }
            if entries.count >= self.capacity, let victim = entries.keys.first { entries.removeValue(forKey: victim) }
            entries[key] = Entry(version: version, digests: [algorithm: hex])
        }
    }
}

/// The digests of an upload, computed from the bytes as they are written (no second read).
///
/// `@unchecked Sendable`: it is only touched by the upload's writes, which run one at a time on the I/O pool, and
/// read after the last of them has finished.
final class UploadDigests: @unchecked Sendable {
    private(set) var digests: [StreamingDigest]

    init(_ algorithms: Set<HashAlgorithm>) {
        self.digests = algorithms.sorted { $0.rawValue < $1.rawValue }.map(StreamingDigest.init)
    }

    /// Whether nothing is hashed.
    var isEmpty: Bool { self.digests.isEmpty }

    func update(_ bytes: UnsafeRawBufferPointer) {
        for index in self.digests.indices { self.digests[index].update(bytes) }
    }

    func hex(_ algorithm: HashAlgorithm) -> String? {
        self.digests.first { $0.algorithm == algorithm }.map { StreamingDigest.hex($0.finalize()) }
    }

    var all: [(HashAlgorithm, String)] {
        self.digests.map { ($0.algorithm, StreamingDigest.hex($0.finalize())) }
    }
}
