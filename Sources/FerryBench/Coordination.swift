import NIOCore

/// A gate many tasks wait at until it opens (sessions held open until all are in).
actor Gate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        if self.isOpen { return }
        await withCheckedContinuation { self.waiters.append($0) }
    }

    func open() {
        self.isOpen = true
        for waiter in self.waiters { waiter.resume() }
        self.waiters.removeAll()
    }
}

/// At most `limit` holders at once (connects in flight).
actor Limiter {
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(_ limit: Int) { self.available = max(1, limit) }

    func acquire() async {
        if self.available > 0 {
            self.available -= 1
            return
        }
        await withCheckedContinuation { self.waiters.append($0) }
    }

    func release() {
        if self.waiters.isEmpty {
            self.available += 1
        } else {
            self.waiters.removeFirst().resume()
        }
    }
}

/// A counter shared by many tasks.
actor Tally {
    private(set) var value = 0
    func increment() { self.value += 1 }
}

/// The same buffer, again and again, up to `total` bytes: an upload source that costs no reads.
struct RepeatedBuffer: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let buffer: ByteBuffer
    let total: Int64

    struct AsyncIterator: AsyncIteratorProtocol {
        let buffer: ByteBuffer
        var left: Int64

        mutating func next() async -> ByteBuffer? {
            guard self.left > 0 else { return nil }
            let count = Int(Swift.min(Int64(self.buffer.readableBytes), self.left))
            self.left -= Int64(count)
            return count == self.buffer.readableBytes ? self.buffer : self.buffer.getSlice(at: 0, length: count)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(buffer: self.buffer, left: self.total) }
}
