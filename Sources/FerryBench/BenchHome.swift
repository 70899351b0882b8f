import FerryProtocol
import Foundation

/// Creates the files the scenarios use, in the layout of `../shared/bench/ftpbench.py --make-home`, so both harnesses
/// can share one home: `big1g.bin`, `f10m.bin`, `f1m.bin` (random bytes), `small/f0000.bin`… (4 KiB each),
/// `list10k/entry-00000.dat`… (0–511 bytes), and an empty `up/`.
public enum BenchHome {
    /// Creates what is missing under `directory` (existing files of the right size are kept).
    ///
    /// - Parameters:
    ///   - directory: The home to fill; created when missing.
    ///   - bigBytes: The size of `big1g.bin`.
    ///   - log: Called with a line for each file or directory written.
    public static func create(at directory: String, bigBytes: Int64 = 1 << 30, log: (String) -> Void = { _ in }) throws
    {
        let manager = FileManager.default
        for sub in ["", "small", "list10k", "up"] {
            try manager.createDirectory(atPath: "\(directory)/\(sub)", withIntermediateDirectories: true)
        }
        var generator = SplitMix64(seed: UInt64.random(in: .min ... .max))
        for (name, size) in [("big1g.bin", bigBytes), ("f10m.bin", 10 << 20), ("f1m.bin", 1 << 20)] {
            let path = "\(directory)/\(name)"
            if Self.size(of: path) == size { continue }
            try Self.writeRandom(path: path, size: size, generator: &generator)
            log("wrote \(path) (\(size) bytes)")
        }
        for index in 0..<500 {
            let path = "\(directory)/small/" + "f\(Self.padded(index, 4)).bin"
            if Self.size(of: path) == 4096 { continue }
            try Self.writeRandom(path: path, size: 4096, generator: &generator)
        }
        for index in 0..<10_000 {
            let path = "\(directory)/list10k/" + "entry-\(Self.padded(index, 5)).dat"
            let size = Int64(index % 512)
            if Self.size(of: path) == size { continue }
            guard manager.createFile(atPath: path, contents: Data(repeating: UInt8(index % 251), count: Int(size)))
            else { throw BenchError("cannot write \(path)") }
        }
        log("\(directory): small/ (500 × 4 KiB), list10k/ (10,000 entries), up/")
    }

    static func padded(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    private static func size(of path: String) -> Int64? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
    }

    private static func writeRandom(path: String, size: Int64, generator: inout SplitMix64) throws {
        guard FileManager.default.createFile(atPath: path + ".part", contents: nil),
            let handle = FileHandle(forWritingAtPath: path + ".part")
        else { throw BenchError("cannot write \(path)") }
        defer { try? handle.close() }
        var chunk = [UInt64](repeating: 0, count: (1 << 20) / 8)
        var left = size
        while left > 0 {
            for index in chunk.indices { chunk[index] = generator.next() }
            let count = Int(min(Int64(chunk.count * 8), left))
            try chunk.withUnsafeBytes { try handle.write(contentsOf: $0.prefix(count)) }
            left -= Int64(count)
        }
        try handle.close()
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: path + ".part", toPath: path)
    }
}
