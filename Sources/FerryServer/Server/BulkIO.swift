import FerryProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The threads for long disk work that grows with a file's size: checksums (HASH, XSHA…) and the prefix copy of
/// REST n + STOR. They are not the file I/O pool's: metadata operations (CWD, DELE, a commit's rename) run there and
/// must never wait behind a user's long hashes.
///
/// Bounded twice: at most `perUser` operations of one user run or wait at once, and at most `total` of all users;
/// beyond either the operation is refused at once (`BulkIOBusy`, 450: the client may retry), so one user cannot
/// queue work that delays everyone else's.
final class BulkIO: Sendable {
    let total: Int
    let perUser: Int
    private let pool: NIOThreadPool
    private let admitted = NIOLockedValueBox<(total: Int, users: [String: Int])>((0, [:]))

    init(threads: Int, total: Int, perUser: Int) {
        self.total = max(1, total)
        self.perUser = max(1, perUser)
        self.pool = NIOThreadPool(numberOfThreads: max(1, threads))
        self.pool.start()
    }

    func shutdown() async {
        try? await self.pool.shutdownGracefully()
    }

    /// Runs `body` on the bulk threads for `user`. `body` gets a closure that tells whether the calling task was
    /// cancelled (ABOR, the session ended): it should ask it between steps and stop. Throws `BulkIOBusy` when the
    /// limits are reached.
    func run<T: Sendable>(
        user: String,
        eventLoop: EventLoop,
        _ body: @escaping @Sendable (_ cancelled: @Sendable () -> Bool) throws -> T
    ) async throws -> T {
        let ok = self.admitted.withLockedValue { state in
            guard state.total < self.total, state.users[user, default: 0] < self.perUser else { return false }
            state.total += 1
            state.users[user, default: 0] += 1
            return true
        }
        guard ok else { throw BulkIOBusy() }
        defer {
            self.admitted.withLockedValue { state in
                state.total -= 1
                let left = state.users[user, default: 1] - 1
                state.users[user] = left > 0 ? left : nil
            }
        }
        let cancelled = NIOLockedValueBox(false)
        // A future, not a child task: it is always awaited to its end, even after cancellation, so the caller's
        // cleanup (closing descriptors) never runs under it.
        let future = self.pool.runIfActive(eventLoop: eventLoop) {
            try body { cancelled.withLockedValue { $0 } }
        }
        return try await withTaskCancellationHandler {
            try await future.get()
        } onCancel: {
            cancelled.withLockedValue { $0 = true }
        }
    }
}

/// Too many long disk operations (checksums, copies) of this user or in all: 450, try again later.
struct BulkIOBusy: FTPReplyError, CustomStringConvertible {
    var description: String { "Too many checksums or copies running; try again later." }
    var reply: FTPReply { FTPReply(.fileActionNotTaken, self.description) }
}
