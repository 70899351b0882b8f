/// Line-ending conversion for `TYPE A` (RFC 959 §3.1.1.1): the wire carries CRLF, the disk holds LF.
///
/// Both converters work on chunks of any size and keep the little state a chunk boundary needs, so
/// a CRLF split across two network reads converts exactly as if it had arrived in one.
public struct ASCIIEncoder: Sendable {
    private var lastWasCR = false

    public init() {}

    /// Disk to wire: every LF not already preceded by CR becomes CRLF.
    public mutating func encode(_ input: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(input.count + input.count / 32 + 8)
        for byte in input {
            if byte == 0x0A && !self.lastWasCR { out.append(0x0D) }
            out.append(byte)
            self.lastWasCR = byte == 0x0D
        }
        return out
    }
}

/// Wire to disk: CRLF becomes LF; a CR not followed by LF is kept.
public struct ASCIIDecoder: Sendable {
    private var pendingCR = false

    public init() {}

    public mutating func decode(_ input: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(input.count + 1)
        for byte in input {
            if self.pendingCR {
                self.pendingCR = false
                if byte != 0x0A { out.append(0x0D) }
            }
            if byte == 0x0D {
                self.pendingCR = true
            } else {
                out.append(byte)
            }
        }
        return out
    }

    /// Call at end of stream: a trailing lone CR is data.
    public mutating func finish() -> [UInt8] {
        defer { self.pendingCR = false }
        return self.pendingCR ? [0x0D] : []
    }
}
