import NIOCore

/// Runs a task's jobs on one NIO event loop.
///
/// A task that prefers the executor of its connection's event loop resumes there after every `await` on that
/// connection's reads, writes and futures, instead of waking a thread of the global pool and hopping back (two
/// context switches per await on a 2-core machine). The server runs each session this way, and a client may run
/// its protocol work this way (`FTPClient.executor`). Blocking work (file system, hashing, password checks) still
/// belongs on thread pools: whatever runs on this executor runs on the event loop.
public final class EventLoopTaskExecutor: TaskExecutor {
    public let eventLoop: any EventLoop

    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
