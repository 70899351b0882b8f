import CFerrySystem
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// A passive data connection that ferryd accepted itself instead of handing it to NIO:
/// - an upload is moved from the socket into its file with splice(2): the kernel hands the received pages to a
///   pipe and copies them once, into the file, where reading into user space and writing out again copies twice
///   (and on two threads: the event loop reads, the I/O pool writes). See `DirectUploads`.
/// - a small download is sent with one sendfile(2) on the event loop, without a NIO channel, its pipeline and its
///   registration, which were most of a small file's server time. See `TransferJob.sendDirect`.
///
/// The transfer that took the socket uses `fd`. `shutdown` may come from any thread (ABOR, the session ending) and
/// wakes a blocked receive; the lock makes sure it never reaches a descriptor number already closed and reused.
final class DirectDataSocket: Sendable {
    private let descriptor: NIOLockedValueBox<CInt>
    /// The descriptor, for the transfer that took the socket (valid until `close` or `handOver`).
    let fd: CInt

    init(fd: CInt) {
        self.fd = fd
        self.descriptor = NIOLockedValueBox(fd)
    }

    /// Makes a blocked receive return (it then reads end-of-file); the caller decides whether that was an abort.
    func shutdown() {
        self.descriptor.withLockedValue { fd in
            if fd >= 0 { _ = Glibc.shutdown(fd, CInt(SHUT_RDWR)) }
        }
    }

    /// Gives the descriptor away (to NIO); `shutdown` and `close` do nothing afterwards.
    func handOver() -> CInt {
        self.descriptor.withLockedValue { fd in
            defer { fd = -1 }
            return fd
        }
    }

    /// Closes the socket (once; later calls do nothing).
    func close() {
        self.descriptor.withLockedValue { fd in
            if fd >= 0 { _ = Glibc.close(fd) }
            fd = -1
        }
    }

    deinit { self.close() }
}

/// The threads that receive direct uploads (`DirectDataSocket`).
///
/// A direct upload blocks its thread for as long as the client sends, so it gets a thread of its own, never one of
/// the shared I/O pool where it would hold up other sessions' file operations. There are `capacity` of them; an
/// upload that finds them all busy takes the event-loop path instead (the same bytes, one copy more), so a slow
/// client can never make another wait.
final class DirectUploads: Sendable {
    let capacity: Int
    private let pool: NIOThreadPool?
    private let running = NIOLockedValueBox(0)

    init(capacity: Int) {
        self.capacity = max(0, capacity)
        self.pool = self.capacity > 0 ? NIOThreadPool(numberOfThreads: self.capacity) : nil
    }

    func start() { self.pool?.start() }

    func shutdown() async {
        try? await self.pool?.shutdownGracefully()
    }

    /// Takes a thread for one upload; false when all are busy (or direct uploads are off).
    func reserve() -> Bool {
        guard self.pool != nil else { return false }
        return self.running.withLockedValue { running in
            guard running < self.capacity else { return false }
            running += 1
            return true
        }
    }

    /// Gives back a thread taken with `reserve` that is not used after all.
    func release() {
        self.running.withLockedValue { $0 -= 1 }
    }

    /// Runs `body` on the thread reserved with `reserve`, and gives the thread back when it ends.
    func run<T: Sendable>(
        eventLoop: EventLoop,
        _ body: @escaping @Sendable () throws -> T
    ) -> EventLoopFuture<T> {
        guard let pool = self.pool else {
            return eventLoop.makeFailedFuture(DataConnectionError.refused("direct uploads are off"))
        }
        let future = pool.runIfActive(eventLoop: eventLoop, body)
        future.whenComplete { _ in self.release() }
        return future
    }

    /// Moves everything the socket receives into `upload`'s file, reserving quota before each chunk is written.
    /// Blocking: runs on a direct-upload thread. Returns the bytes received and the file's size.
    ///
    /// Each round splices what has arrived (up to `chunk` bytes) from the socket into a pipe, reserves the file's
    /// new size, then splices the pipe into the file. A chunk over the quota is never written. The socket's receive
    /// timeout is the data idle timeout, so a client that stops sending fails the upload as on the other path.
    static func receive(
        from socket: DirectDataSocket,
        into upload: PendingUpload,
        books: UploadBooks,
        chunk: Int,
        idleTimeout: TimeAmount,
        progress: NIOLockedValueBox<Int64>
    ) throws -> (received: Int64, size: Int64) {
        var timeout = timeval(
            tv_sec: Int(idleTimeout.nanoseconds / 1_000_000_000),
            tv_usec: Int(idleTimeout.nanoseconds % 1_000_000_000 / 1000)
        )
        _ = setsockopt(socket.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var pipe: [CInt] = [-1, -1]
        guard cferry_pipe(&pipe, CInt(chunk)) == 0 else { throw JailError(errno: errno, path: upload.path) }
        defer {
            Glibc.close(pipe[0])
            Glibc.close(pipe[1])
        }
        var received: Int64 = 0
        var onDisk = upload.initialSize
        while true {
            let count = cferry_splice(socket.fd, pipe[1], chunk)
            if count == 0 { break }
            if count < 0 {
                switch errno {
                case EINTR: continue
                case EAGAIN, EWOULDBLOCK: throw DataConnectionError.idle
                default: throw IOError(errnoCode: errno, reason: "splice from the data connection")
                }
            }
            received += Int64(count)
            progress.withLockedValue { $0 = received }
            // Quota: reserve before writing; the first byte over the limit stops the upload with 552.
            onDisk += Int64(count)
            try books.reserve(size: onDisk)
            var left = count
            while left > 0 {
                let written = cferry_splice(pipe[0], upload.fd, left)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw JailError(errno: errno, path: upload.path)
                }
                // A file that takes no more (a full file system answers ENOSPC, not 0) must not spin.
                guard written > 0 else { throw JailError(errno: EIO, path: upload.path) }
                left -= written
            }
            upload.wrote(count)
        }
        return (received, onDisk)
    }
}
