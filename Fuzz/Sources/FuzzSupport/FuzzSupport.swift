import CFuzzDriver

/// Hands control to libFuzzer with `target` as the function it calls for each input; never returns.
///
/// `target` must be a plain function (no captures): libFuzzer calls it through a C function pointer.
public func runFuzzer(_ target: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    ferry_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, target)
}

/// The input libFuzzer gives, as a Swift array (empty when libFuzzer passes no bytes).
public func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// An invariant of the code under test. A violation is a crash, so that libFuzzer saves the input that caused it.
public func check(
    _ condition: Bool,
    _ message: @autoclosure () -> String,
    file: StaticString = #fileID,
    line: UInt = #line
) {
    guard !condition else { return }
    fatalError("invariant violated: \(message())", file: file, line: line)
}

/// Reads an input piece by piece: a few leading bytes steer the test (a limit, how to split), the rest is data.
public struct FuzzInput {
    public private(set) var bytes: ArraySlice<UInt8>

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes[...]
    }

    public var isEmpty: Bool { self.bytes.isEmpty }

    /// The next byte, or 0 once the input is used up.
    public mutating func byte() -> UInt8 {
        self.bytes.popFirst() ?? 0
    }

    /// The next two bytes as a little-endian number.
    public mutating func uint16() -> UInt16 {
        UInt16(self.byte()) | UInt16(self.byte()) << 8
    }

    /// The next eight bytes as a little-endian number.
    public mutating func uint64() -> UInt64 {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 8) { value |= UInt64(self.byte()) << UInt64(shift) }
        return value
    }

    /// Up to `count` bytes.
    public mutating func take(_ count: Int) -> [UInt8] {
        let piece = self.bytes.prefix(count)
        self.bytes = self.bytes.dropFirst(piece.count)
        return Array(piece)
    }

    /// The bytes up to (not including) the next `separator`, which is consumed; everything left if there is none.
    public mutating func take(until separator: UInt8) -> [UInt8] {
        guard let index = self.bytes.firstIndex(of: separator) else { return self.rest() }
        let piece = Array(self.bytes[..<index])
        self.bytes = self.bytes[(index + 1)...]
        return piece
    }

    /// Everything not read yet.
    public mutating func rest() -> [UInt8] {
        defer { self.bytes = [] }
        return Array(self.bytes)
    }
}

/// Splits `bytes` into consecutive chunks of 1...`maximum` bytes chosen by `seed`: the same data arriving in
/// different network reads. Their concatenation is always `bytes`.
public func chunks(_ bytes: [UInt8], seed: UInt64, maximum: Int) -> [ArraySlice<UInt8>] {
    var state = seed
    var result: [ArraySlice<UInt8>] = []
    var start = 0
    while start < bytes.count {
        // SplitMix64: a deterministic sequence from the seed, so a crash reproduces from its input alone.
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let length = 1 + Int(z % UInt64(max(maximum, 1)))
        let end = min(start + length, bytes.count)
        result.append(bytes[start..<end])
        start = end
    }
    return result
}
