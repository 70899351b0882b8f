/// The two fixed buffers of an upload: one is filled from the network while the other is written to disk.
///
/// Only the upload's task calls `append` and `takeFilled`. A batch handed out by `takeFilled` is read by pool
/// threads until the upload awaits its write, and its buffer is not filled again before that: the caller awaits the
/// write before the next `takeFilled`, which is the only way back to that buffer. The memory lives as long as this
/// object, which every batch keeps alive. The second buffer is allocated only when the first is handed out, so an
/// upload smaller than one batch costs one buffer.
final class UploadBatches: @unchecked Sendable {
    /// A filled buffer on its way to disk.
    struct Batch: @unchecked Sendable {
        let owner: UploadBatches
        let bytes: UnsafeRawBufferPointer
    }

    private let size: Int
    private var buffers: [UnsafeMutableRawBufferPointer]
    private var current = 0
    private var filled = 0

    init(size: Int) {
        self.size = max(size, 4096)
        self.buffers = [.allocate(byteCount: self.size, alignment: 4096)]
    }

    deinit {
        for buffer in self.buffers { buffer.deallocate() }
    }

    var isFull: Bool { self.filled == self.size }

    /// Copies as much of `bytes` as fits into the buffer being filled; returns how much that was.
    func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        let count = min(bytes.count, self.size - self.filled)
        guard count > 0 else { return 0 }
        UnsafeMutableRawBufferPointer(rebasing: self.buffers[self.current][self.filled..<self.filled + count])
            .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[..<count]))
        self.filled += count
        return count
    }

    /// The bytes filled so far, to be written; filling goes on in the other buffer. Nil when nothing was filled.
    func takeFilled() -> Batch? {
        guard self.filled > 0 else { return nil }
        let batch = Batch(
            owner: self,
            bytes: UnsafeRawBufferPointer(rebasing: self.buffers[self.current][..<self.filled])
        )
        if self.buffers.count == 1 { self.buffers.append(.allocate(byteCount: self.size, alignment: 4096)) }
        self.current ^= 1
        self.filled = 0
        return batch
    }
}
