import NIOCore

/// Runs a task's jobs on one NIO event loop.
///
/// A session's task prefers the executor of its control connection's event loop: the channel's reads, writes and
/// futures complete on that loop, so every `await` on them resumes on the same thread instead of waking a thread
/// of the global pool and hopping back (two context switches per command on a 2-core machine). Blocking work
/// (file system, hashing, password checks) still goes to thread pools; only protocol logic runs here.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
