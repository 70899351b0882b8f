import FerryProtocol
import Foundation
import Testing

@testable import FerryIntegrity

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A scratch directory removed when the fixture goes away.
private final class TemporaryDirectory {
    let url: URL

    init() throws {
        self.url = FileManager.default.temporaryDirectory
            .appendingPathComponent("ferry-integrity-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: self.url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: self.url)
    }

    /// Writes `bytes` to a new file and returns its path.
    func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = self.url.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }
}

/// Random bytes from SplitMix64 seeded by the system generator: fast enough for 64 MiB in a debug build.
private func randomBytes(_ count: Int) -> [UInt8] {
    var state = UInt64.random(in: .min ... .max)
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { raw in
        var offset = 0
        while offset < count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            withUnsafeBytes(of: z) { word in
                let length = min(8, count - offset)
                raw.baseAddress!.advanced(by: offset).copyMemory(from: word.baseAddress!, byteCount: length)
            }
            offset += 8
        }
    }
    return bytes
}

/// What Python's hashlib and zlib say about bytes `start..<end` of a file, hex by algorithm.
private func pythonDigests(path: String, range: Range<Int64>) throws -> [HashAlgorithm: String] {
    let script = """
        import hashlib, sys, zlib
        path, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read(end - start)
        assert len(data) == end - start
        print("SHA-256", hashlib.sha256(data).hexdigest())
        print("SHA-512", hashlib.sha512(data).hexdigest())
        print("SHA-1", hashlib.sha1(data).hexdigest())
        print("MD5", hashlib.md5(data).hexdigest())
        print("CRC32", format(zlib.crc32(data) & 0xFFFFFFFF, "08x"))
        """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script, path, String(range.lowerBound), String(range.upperBound)]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "python3 failed")
    var result: [HashAlgorithm: String] = [:]
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
        let words = line.split(separator: " ")
        if words.count == 2, let algorithm = HashAlgorithm(name: String(words[0])) {
            result[algorithm] = String(words[1])
        }
    }
    try #require(result.count == HashAlgorithm.allCases.count)
    return result
}

/// Opens `path` read-only for the duration of `body`.
private func withFile<T>(_ path: String, _ body: (CInt) throws -> T) throws -> T {
    let fd = open(path, O_RDONLY)
    try #require(fd >= 0, "open \(path)")
    defer { close(fd) }
    return try body(fd)
}

private func fileHex(
    _ fd: CInt,
    _ range: Range<Int64>,
    _ algorithm: HashAlgorithm,
    chunkSize: Int = 1 << 20
) throws -> String {
    StreamingDigest.hex(try FileDigest.compute(fd: fd, range: range, algorithm: algorithm, chunkSize: chunkSize))
}

/// Catches the `FileDigestError` a computation throws.
private func digestError(_ body: () throws -> [UInt8]) -> FileDigestError? {
    do {
        _ = try body()
        return nil
    } catch let error as FileDigestError {
        return error
    } catch {
        return nil
    }
}

@Suite("FileDigest")
struct FileDigestTests {
    @Test("whole files agree with Python's hashlib and zlib", arguments: [0, 1, 1 << 20, 64 << 20])
    func wholeFileMatchesPython(size: Int) throws {
        let directory = try TemporaryDirectory()
        let path = try directory.file("random-\(size).bin", randomBytes(size))
        let expected = try pythonDigests(path: path, range: 0..<Int64(size))
        try withFile(path) { fd in
            for algorithm in HashAlgorithm.allCases {
                let hex = try fileHex(fd, 0..<Int64(size), algorithm)
                #expect(hex == expected[algorithm], "\(algorithm), \(size) B")
            }
        }
    }

    @Test("ranges inside the file, the whole file and an empty range")
    func ranges() throws {
        let directory = try TemporaryDirectory()
        let size: Int64 = (1 << 20) + 123
        let path = try directory.file("ranges.bin", randomBytes(Int(size)))
        let ranges: [Range<Int64>] = [
            0..<size, 1..<2, 1000..<500_000, (1 << 20)..<size, size - 1..<size, 17..<17, size..<size,
        ]
        try withFile(path) { fd in
            for range in ranges {
                let expected = try pythonDigests(path: path, range: range)
                for algorithm in HashAlgorithm.allCases {
                    let hex = try fileHex(fd, range, algorithm)
                    #expect(hex == expected[algorithm], "\(algorithm), \(range)")
                }
            }
        }
    }

    @Test("the chunk size does not change the digest", arguments: HashAlgorithm.allCases)
    func chunkBoundaries(algorithm: HashAlgorithm) throws {
        let directory = try TemporaryDirectory()
        let size: Int64 = 100_003
        let path = try directory.file("chunks.bin", randomBytes(Int(size)))
        try withFile(path) { fd in
            for range in [0..<size, 5..<(size - 3)] {
                let reference = try fileHex(fd, range, algorithm, chunkSize: 1 << 20)
                for chunkSize in [1, 7, 4096, 65_537] {
                    let hex = try fileHex(fd, range, algorithm, chunkSize: chunkSize)
                    #expect(hex == reference, "chunk \(chunkSize)")
                }
            }
        }
    }

    @Test("a range past the end of the file throws unexpectedEndOfFile at the file's end")
    func rangePastEnd() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.file("short.bin", randomBytes(1000))
        try withFile(path) { fd in
            for chunkSize in [7, 1 << 20] {
                let error = digestError {
                    try FileDigest.compute(fd: fd, range: 900..<1001, algorithm: .sha256, chunkSize: chunkSize)
                }
                #expect(error?.reason == .unexpectedEndOfFile)
                #expect(error?.offset == 1000)
                #expect(error?.errno == 0)
            }
            let beyond = digestError { try FileDigest.compute(fd: fd, range: 2000..<3000, algorithm: .md5) }
            #expect(beyond?.reason == .unexpectedEndOfFile)
            #expect(beyond?.offset == 2000)
        }
    }

    @Test("a negative start is refused before reading")
    func negativeStart() {
        let error = digestError { try FileDigest.compute(fd: -1, range: -1..<10, algorithm: .sha1) }
        #expect(error?.reason == .invalidRange)
        #expect(error?.errno == EINVAL)
    }

    @Test("a read error carries pread's errno")
    func readError() throws {
        let error = digestError { try FileDigest.compute(fd: -1, range: 0..<10, algorithm: .crc32) }
        #expect(error?.reason == .readFailed)
        #expect(error?.errno == EBADF)
        // An empty range reads nothing, so even a bad descriptor gives the digest of no bytes.
        #expect(try FileDigest.compute(fd: -1, range: 5..<5, algorithm: .crc32) == [0, 0, 0, 0])
    }

    @Test("cancellation is checked between chunks")
    func cancellation() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.file("cancel.bin", randomBytes(10_000))
        try withFile(path) { fd in
            var checks = 0
            let error = digestError {
                try FileDigest.compute(fd: fd, range: 0..<10_000, algorithm: .sha512, chunkSize: 1000) {
                    checks += 1
                    return checks > 3
                }
            }
            #expect(error?.reason == .cancelled)
            #expect(error?.errno == ECANCELED)
            #expect(error?.offset == 3000)

            var calls = 0
            let digest = try FileDigest.compute(fd: fd, range: 0..<10_000, algorithm: .sha512, chunkSize: 1000) {
                calls += 1
                return false
            }
            #expect(calls == 10)
            let reference = try fileHex(fd, 0..<10_000, .sha512)
            #expect(StreamingDigest.hex(digest) == reference)
        }
    }

    @Test("the descriptor's file offset is not moved")
    func offsetUntouched() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.file("offset.bin", randomBytes(5000))
        try withFile(path) { fd in
            #expect(lseek(fd, 123, SEEK_SET) == 123)
            _ = try FileDigest.compute(fd: fd, range: 0..<5000, algorithm: .md5, chunkSize: 512)
            #expect(lseek(fd, 0, SEEK_CUR) == 123)
        }
    }
}
