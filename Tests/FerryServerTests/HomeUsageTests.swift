import Foundation
import Testing

@testable import FerryServer

@Suite("home usage walk")
struct HomeUsageTests {
    @Test("a tree deeper than any fixed limit is counted whole, with few descriptors open")
    func deepTree() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-deep-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        // 700 levels (a fixed limit of 512 used to hide what lies below), built with relative paths.
        let depth = 700
        var fd = open(root, O_RDONLY | O_DIRECTORY)
        for level in 0..<depth {
            #expect(mkdirat(fd, "d", 0o755) == 0)
            if level == 350 || level == depth - 1 {
                let file = openat(fd, "d/f.bin", O_WRONLY | O_CREAT, 0o644)
                #expect(file >= 0)
                _ = write(file, "12345", 5)
                close(file)
            }
            let next = openat(fd, "d", O_RDONLY | O_DIRECTORY)
            close(fd)
            fd = next
        }
        close(fd)
        let count = HomeUsage.scan(home: root)
        #expect(count.bytes == 10)
        #expect(count.files == Int64(depth) + 2)  // every directory counts as a file, and the two files
    }

    @Test("a stale temporary upload goes, one whose lock is held stays")
    func temporaryLocks() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-tmp-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: root + "/.ferry-upload-stale", contents: Data("x".utf8)))
        #expect(FileManager.default.createFile(atPath: root + "/.ferry-upload-live", contents: Data("y".utf8)))
        let live = open(root + "/.ferry-upload-live", O_RDWR)
        #expect(flock(live, LOCK_EX | LOCK_NB) == 0)
        defer { close(live) }
        let count = HomeUsage.scan(home: root)
        #expect(count.removedTemporaries == 1)
        #expect(!FileManager.default.fileExists(atPath: root + "/.ferry-upload-stale"))
        #expect(FileManager.default.fileExists(atPath: root + "/.ferry-upload-live"))
        #expect(count.files == 0)
    }
}
