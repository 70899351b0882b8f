import CFerrySystem
import FerryProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
    import Glibc
#endif

/// A transfer running on the data connection while the session keeps reading commands.
struct RunningTransfer {
    let task: Task<Void, Never>
    /// Bytes moved so far, for STAT.
    let progress: NIOLockedValueBox<Int64>
    let description: String
}

/// REST, RETR, STOR/APPE, ABOR and the commands answered while a transfer runs.
extension Session {
    func handleREST(_ offset: Int64) async {
        self.restartOffset = offset
        self.byteRange = nil
        await self.reply(
            .pendingFurtherInformation,
            "Restarting at \(offset). Send STOR or RETR to start the transfer."
        )
    }

    func handleDuringTransfer(_ command: FTPCommand, _ transfer: RunningTransfer) async {
        switch command {
        case .abor:
            // RFC 959 §4.1.3: the transfer's own 426 comes first, then 226 for the ABOR itself.
            transfer.task.cancel()
            await transfer.task.value
            self.transfer = nil
            await self.reply(.closingDataConnection, "ABOR command successful.")
        case .stat:
            await self.handleSTAT()
        case .quit:
            // RFC 959: QUIT during a transfer waits for the transfer's reply, then closes.
            await transfer.task.value
            self.transfer = nil
            await self.handleQUIT()
        default:
            await self.reply(.commandOK, "NOOP ok.")
        }
    }

    func handleRETR(_ text: String) async {
        guard let path = await self.resolve(text) else { return }
        let restart = self.restartOffset
        let range = self.byteRange
        self.restartOffset = 0
        self.byteRange = nil
        guard let file = await self.openForReading(path) else { return }
        // REST sends from an offset to the end; RANG sends an inclusive range with its end clamped to the file
        // (draft-bryan-ftp-range §4.3).
        var (offset, end) = (restart, file.size)
        if let range {
            do {
                let bytes = try range.clamped(toFileSize: file.size)
                (offset, end) = (bytes.lowerBound, bytes.upperBound)
            } catch {
                close(file.fd)
                await self.reply(error.reply)
                return
            }
        }
        guard offset <= file.size else {
            close(file.fd)
            await self.reply(
                .invalidRestart,
                "REST offset \(offset) is beyond the end of the file (\(file.size) bytes)."
            )
            return
        }
        guard let setup = await self.takeDataSetup() else {
            close(file.fd)
            return
        }
        let type = self.transferType
        let (start, stop) = (offset, end)
        let job = self.transferJob(setup: setup, command: "RETR", path: path)
        let opening = FTPReply(
            .fileStatusOK,
            "Opening \(type == .ascii ? "ASCII" : "BINARY") mode data connection for \(path.name ?? "/") "
                + "(\(stop - start) bytes)."
        )
        let body: TransferBody
        // The direct path runs sendfile on the event loop: only from a local disk, where reading a cached page waits
        // for no server (a network or FUSE file system could block the loop and every session on it).
        if type == .image, stop - start <= self.context.configuration.sendfileMaximumSize,
            self.user?.jail.allowsCachedOpen == true,
            case .passive(let listener) = setup, let socket = listener.directConnection(nonBlocking: true)
        {
            body = .direct(socket) { job, socket in
                await job.reply(opening)
                return try await job.sendDirect(fd: file.fd, from: start, to: stop, over: socket)
            }
        } else {
            body = .stream { job, data in
                await job.reply(opening)
                return try await job.sendFile(fd: file.fd, from: start, to: stop, type: type, over: data)
            }
        }
        self.startTransfer(job, cleanupBlocks: false, body: body) {
            close(file.fd)
        }
    }

    /// Opens a file to download: on the event loop when the kernel can promise not to block, else on the I/O pool.
    private func openForReading(_ path: VirtualPath) async -> (fd: CInt, size: Int64, version: FileVersion)? {
        if let file = self.user?.jail.openForReadingIfCached(path) { return file }
        return await self.withJail({ jail throws(JailError) in try jail.openForReading(path) })
    }

    /// ALLO n: the next upload must bring exactly n bytes. A stream-mode upload ends when the client closes the
    /// data connection, which a client that dies or is cut off also does; with ALLO an early end is told apart and
    /// the upload is not stored. The quota is checked against n at once.
    func handleALLO(_ size: Int64?) async {
        guard let size else {
            await self.reply(.commandSuperfluous, "ALLO without a size: nothing to do.")
            return
        }
        if let quota = self.user?.quota {
            await self.context.ledger.refresh(quota)
            if let available = quota.status.availableBytes, size > available {
                await self.reply(
                    .exceededStorage,
                    "ALLO \(size) refused: only \(available) bytes of your quota are available."
                )
                return
            }
        }
        self.allocation = size
        await self.reply(.commandOK, "ALLO: the next upload must be \(size) bytes.")
    }

    func handleSTOR(_ text: String, append: Bool) async {
        guard let path = await self.resolve(text), let quota = self.user?.quota else { return }
        let restart = self.restartOffset
        let expectation = self.expectation
        let allocation = self.allocation
        self.restartOffset = 0
        self.expectation = nil
        self.allocation = nil
        if self.byteRange != nil {
            self.byteRange = nil
            await self.reply(
                .parameterNotImplemented,
                "RANG applies to RETR and HASH only; use REST to resume an upload."
            )
            return
        }
        // Hashed as it is written: what SITE EXPECT names, and SHA-256 for later HASH commands when configured.
        var algorithms: Set<HashAlgorithm> = self.context.configuration.hashUploads ? [.sha256] : []
        if let expectation { algorithms.insert(expectation.algorithm) }
        let digests = UploadDigests(algorithms)
        // APPE keeps the whole existing file; REST+STOR keeps its first `restart` bytes. Nothing is copied yet.
        let mode: Jail.UploadMode = append ? .append : (restart > 0 ? .resume(at: restart) : .replace)
        let durable = self.context.configuration.durableUploads
        guard
            let upload = await self.withJail({ jail throws(JailError) in
                try jail.beginUpload(path, mode: mode, writeBehind: durable)
            })
        else { return }
        // Limits may have been changed with `ferryd user quota` since the last upload.
        await self.context.ledger.refresh(quota)
        let books: UploadBooks
        do throws(QuotaExceeded) {
            books = try quota.beginUpload(path: path, replacing: upload.base, appending: upload.appends)
        } catch {
            await self.discard(upload)
            await self.reply(error.reply)
            return
        }
        do throws(QuotaExceeded) {
            try books.reserve(size: upload.initialSize)
        } catch {
            books.release()
            await self.discard(upload)
            await self.reply(error.reply)
            return
        }
        guard let setup = await self.takeDataSetup() else {
            books.release()
            await self.discard(upload)
            return
        }
        // Only now, with the quota reserved and a data connection set up, is the old file read: its first bytes
        // hashed for the digests, and copied for REST n + STOR.
        let sameBase = expectation != nil && upload.keptPrefix > 0
        let type = self.transferType
        let job = self.transferJob(setup: setup, command: append ? "APPE" : "STOR", path: path)
        let prepare: @Sendable (TransferJob) async throws -> Void = { job in
            guard upload.keptPrefix > 0, !digests.isEmpty || upload.initialSize > 0 else { return }
            try await job.context.bulkIO.run(user: books.account.name, eventLoop: job.control.eventLoop) { cancelled in
                try upload.digestPrefix(into: digests)
                try upload.copyPrefix(cancelled: cancelled)
            }
        }
        let controlChannel = self.control
        let commit: @Sendable (TransferJob, Int64, Int64) async throws -> Int64 = { job, received, size in
            // SECURITY/INTEGRITY: a stream-mode upload ends with the sender's close, which a dying client also
            // produces. If the control connection is gone too, or ABOR came, the file is not trusted.
            guard controlChannel.isActive, !Task.isCancelled else { throw CancellationError() }
            // ALLO announced the size: an upload that ended early (or went on) is not stored. Clients announce either
            // the bytes they send or the whole file's size (lftp before a REST): either matches.
            if let allocation, size - upload.initialSize != allocation,
                upload.finalSize(temporarySize: size) != allocation
            {
                throw AllocationMismatch(received: size - upload.initialSize, announced: allocation, path: path)
            }
            // Verify before commit: a file that does not match what the client announced is never visible.
            try expectation?.verify(digests: digests, size: upload.finalSize(temporarySize: size), path: path)
            let committed = try await job.context.fileIO.runIfActive {
                try upload.commit(books: books, durable: durable, sameBase: sameBase)
            }
            // The digests cover the finished file unless old bytes were kept that nobody checked did not change.
            if upload.keptPrefix == 0 || sameBase {
                for (algorithm, hex) in digests.all {
                    job.context.digestCache.remember(committed.version, algorithm: algorithm, hex: hex)
                }
            }
            if let delta = committed.delta {
                await books.account.persist(
                    bytes: delta.bytes,
                    files: delta.files,
                    store: job.context.store,
                    logger: job.logger
                )
            }
            return received
        }
        let body: TransferBody
        if let direct = self.directConnection(for: setup, type: type, digests: digests) {
            body = .direct(direct) { job, socket in
                try await prepare(job)
                await job.reply(.fileStatusOK, "Ok to send data.")
                let (received, size) = try await job.receiveDirect(from: socket, into: upload, books: books)
                return try await commit(job, received, size)
            }
        } else {
            body = .stream { job, data in
                try await prepare(job)
                await job.reply(.fileStatusOK, "Ok to send data.")
                let (received, size) = try await job.receiveFile(
                    into: upload,
                    books: books,
                    digests: digests,
                    type: type,
                    over: data
                )
                return try await commit(job, received, size)
            }
        }
        self.startTransfer(job, body: body) {
            // After a failure: the temporary file goes, and so does what the upload reserved. Both do nothing
            // once the upload was committed.
            upload.discardIfPending()
            books.release()
        }
    }

    /// The client's passive connection, accepted by ferryd itself, when an upload can be spliced into its file: binary,
    /// clear, not hashed while it arrives, and a direct-upload thread free (see `DirectUploads`).
    private func directConnection(
        for setup: DataSetup,
        type: TransferType,
        digests: UploadDigests
    ) -> DirectDataSocket? {
        guard type == .image, digests.isEmpty, case .passive(let listener) = setup, !listener.protected else {
            return nil
        }
        let threads = self.context.directUploads
        guard threads.reserve() else { return nil }
        guard let socket = listener.directConnection(nonBlocking: false) else {
            threads.release()
            return nil
        }
        return socket
    }

    func discard(_ upload: PendingUpload) async {
        _ = try? await self.context.fileIO.runIfActive { upload.discardIfPending() }
    }

    func transferJob(setup: DataSetup, command: String, path: VirtualPath) -> TransferJob {
        TransferJob(
            context: self.context,
            control: self.control,
            dataSettings: self.dataSettings,
            logger: self.logger,
            setup: setup,
            command: command,
            path: path,
            progress: NIOLockedValueBox(0)
        )
    }

    /// Runs `body` as the session's transfer: opens the data connection, replies 226 on success and 426/451
    /// on failure, logs one line with path, bytes, duration and result, and always runs `cleanup` before the final
    /// reply: on the file I/O pool, or right away when `cleanupBlocks` is false (closing a descriptor).
    func startTransfer(
        _ job: TransferJob,
        cleanupBlocks: Bool = true,
        body: @escaping @Sendable (TransferJob, DataStream) async throws -> Int64,
        cleanup: @escaping @Sendable () -> Void
    ) {
        self.startTransfer(job, cleanupBlocks: cleanupBlocks, body: .stream(body), cleanup: cleanup)
    }

    func startTransfer(
        _ job: TransferJob,
        cleanupBlocks: Bool = true,
        body: TransferBody,
        cleanup: @escaping @Sendable () -> Void
    ) {
        let handle = self.handle
        handle.activity.withLockedValue { $0.transferActive = true }
        let memory = self.context.memory
        memory.transferStarted()
        // On the session's event loop too: the data channel's futures resume there without a thread hop.
        let task = Task(executorPreference: self.executor) {
            await job.run(body: body, cleanup: cleanup, cleanupBlocks: cleanupBlocks)
            memory.transferEnded()
            let shutdown = handle.activity.withLockedValue { activity in
                activity.transferActive = false
                activity.lastCommand = .now()
                return activity.shutdownRequested
            }
            if shutdown { handle.closeWithReply(FTPShutdownReply.text) }
        }
        self.transfer = RunningTransfer(task: task, progress: job.progress, description: "\(job.command) \(job.path)")
    }
}

/// An upload whose size is not what ALLO announced: not stored, the file is unchanged.
struct AllocationMismatch: FTPReplyError, CustomStringConvertible {
    var received: Int64
    var announced: Int64
    var path: VirtualPath
    var description: String {
        "Upload not stored: \(self.received) bytes received, ALLO announced \(self.announced); \(self.path) was not changed."
    }
    var reply: FTPReply { FTPReply(.transferAborted, self.description) }
}

extension FTPReplyCode {
    /// RFC 3659 §5.4: the REST offset does not fit the file.
    static let invalidRestart = FTPReplyCode(554)
}

/// What a transfer does once its data connection is open.
enum TransferBody: Sendable {
    /// Over a NIO data channel: every transfer but the direct ones.
    case stream(@Sendable (TransferJob, DataStream) async throws -> Int64)
    /// Over a connection ferryd accepted itself (a spliced upload or a small download, see `DirectDataSocket`);
    /// already connected.
    case direct(DirectDataSocket, @Sendable (TransferJob, DirectDataSocket) async throws -> Int64)
}

/// The open data connection as a transfer body sees it: the channel to write to, the stream to read from.
struct DataStream {
    let channel: Channel
    let inbound: NIOAsyncChannelInboundStream<ByteBuffer>
    /// PROT P: bytes go through TLS, so sendfile cannot be used.
    let encrypted: Bool

    /// Waits until everything sent is flushed. With TLS the flush completes only after the handshake, so even a
    /// transfer of zero bytes gives the client a complete TLS session before the connection closes.
    func finishSending() async throws {
        try await self.channel.writeAndFlush(IOData.byteBuffer(ByteBuffer()))
    }
}

/// Everything a transfer task needs, all of it safe to use from another task.
struct TransferJob: Sendable {
    let context: ServerContext
    let control: Channel
    /// Data-connection settings (TLS for PROT P) when the transfer was asked for.
    let dataSettings: DataChannelSettings
    let logger: Logger
    let setup: Session.DataSetup
    let command: String
    let path: VirtualPath
    let progress: NIOLockedValueBox<Int64>

    func reply(_ code: FTPReplyCode, _ text: String) async {
        await self.reply(FTPReply(code, text))
    }

    func reply(_ reply: FTPReply) async {
        await Session.send(reply, on: self.control)
    }

    func run(
        body: TransferBody,
        cleanup: @escaping @Sendable () -> Void,
        cleanupBlocks: Bool
    ) async {
        let started = NIODeadline.now()
        let (reply, result, bytes) = await self.transfer(body: body)
        // Clean up (close the file, remove an uncommitted upload) before the final reply, so a client that
        // reads 226/426 sees the disk in its final state. Not cancellable: it must run after an ABOR too.
        if cleanupBlocks {
            _ = try? await self.context.fileIO.runIfActive(eventLoop: self.control.eventLoop, cleanup).get()
        } else {
            cleanup()
        }
        await self.reply(reply)
        let milliseconds = (NIODeadline.now() - started).nanoseconds / 1_000_000
        let direct: Bool
        if case .direct = body { direct = true } else { direct = false }
        // Built only when info is logged (the argument is an autoclosure).
        self.logger.info(
            "transfer",
            metadata: [
                "command": "\(self.command)", "path": "\(self.path)", "bytes": "\(bytes)", "ms": "\(milliseconds)",
                "result": "\(result)", "via": direct ? "direct" : "nio",
            ]
        )
    }

    /// Opens the data connection and runs the body; returns the final reply, a result for the log and the bytes.
    private func transfer(body: TransferBody) async -> (FTPReply, String, Int64) {
        let stream: @Sendable (TransferJob, DataStream) async throws -> Int64
        switch body {
        case .stream(let body):
            stream = body
        case .direct(let socket, let direct):
            defer { socket.close() }
            do {
                let bytes = try await withTaskCancellationHandler {
                    try await direct(self, socket)
                } onCancel: {
                    socket.shutdown()
                }
                return (FTPReply(.closingDataConnection, "Transfer complete."), "ok", bytes)
            } catch {
                return self.failure(error)
            }
        }
        let data: DataChannel
        do {
            data = try await self.connect()
        } catch {
            return (
                FTPReply(.cannotOpenDataConnection, "Cannot open data connection."), "no data connection: \(error)", 0
            )
        }
        do {
            let encrypted: Bool
            switch self.setup {
            case .passive(let listener): encrypted = listener.protected
            case .active: encrypted = self.dataSettings.tls != nil
            case .none: encrypted = false
            }
            let bytes = try await Self.use(data, encrypted: encrypted) { try await stream(self, $0) }
            return (FTPReply(.closingDataConnection, "Transfer complete."), "ok", bytes)
        } catch {
            return self.failure(error)
        }
    }

    /// The final reply, log result and bytes moved of a transfer that failed with `error`.
    private func failure(_ error: Error) -> (FTPReply, String, Int64) {
        let bytes = self.progress.withLockedValue { $0 }
        if Task.isCancelled || error is CancellationError {
            return (FTPReply(.transferAborted, "Connection closed; transfer aborted."), "aborted", bytes)
        } else if let error = error as? any FTPReplyError {
            return (error.reply, "failed: \(error)", bytes)
        } else {
            return (FTPReply(.transferAborted, "Data connection lost; transfer aborted."), "failed: \(error)", bytes)
        }
    }

    /// Runs `body` over an open data connection, then closes it whatever happens (`executeThenClose` also finishes
    /// the async wrapper); cancellation (ABOR, the session ending) closes it at once.
    private static func use(
        _ data: DataChannel,
        encrypted: Bool,
        _ body: (DataStream) async throws -> Int64
    ) async throws -> Int64 {
        let channel = data.channel
        return try await data.executeThenClose { inbound, _ in
            try await withTaskCancellationHandler {
                try await body(DataStream(channel: channel, inbound: inbound, encrypted: encrypted))
            } onCancel: {
                channel.close(promise: nil)
            }
        }
    }

    private func connect() async throws -> DataChannel {
        switch self.setup {
        case .none:
            throw DataConnectionError.refused("no data connection set up")
        case .passive(let listener):
            return try await withTaskCancellationHandler {
                try await listener.connection()
            } onCancel: {
                listener.close()
            }
        case .active(let address):
            return try await connectActive(to: address, group: self.context.group, settings: self.dataSettings)
        }
    }

    /// Sends `[offset, end)` of a file. Small binary transfers on clear connections use sendfile (zero copy, see
    /// `sendfileMaximumSize`); the others read chunks on the I/O pool, one chunk ahead of the one being sent, and
    /// convert LF to CRLF for ASCII.
    func sendFile(
        fd: CInt,
        from offset: Int64,
        to end: Int64,
        type: TransferType,
        over data: DataStream
    ) async throws
        -> Int64
    {
        if type == .image && !data.encrypted && end - offset <= self.context.configuration.sendfileMaximumSize {
            // Zero copy. The region borrows the descriptor (handed back, not closed: `cleanup` closes it).
            let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: fd)
            defer { _ = try? handle.takeDescriptorOwnership() }
            let region = FileRegion(fileHandle: handle, readerIndex: Int(offset), endIndex: Int(end))
            try await data.channel.writeAndFlush(IOData.fileRegion(region))
            self.progress.withLockedValue { $0 = end - offset }
            return end - offset
        }
        let fileIO = self.context.fileIO
        let eventLoop = data.channel.eventLoop
        let allocator = data.channel.allocator
        let chunkSize = self.context.configuration.transferChunkSize
        func read(at position: Int64) -> EventLoopFuture<ByteBuffer> {
            let length = Int(min(Int64(chunkSize), end - position))
            return fileIO.runIfActive(eventLoop: eventLoop) {
                try Self.readChunk(fd: fd, offset: position, length: length, allocator: allocator)
            }
        }
        var encoder = ASCIIEncoder()
        var position = offset
        var sent: Int64 = 0
        // The read in flight is always awaited before returning: `cleanup` closes the descriptor afterwards.
        var next: EventLoopFuture<ByteBuffer>? = position < end ? read(at: position) : nil
        do {
            while let pending = next {
                next = nil
                // Cancellation is checked only once no read is in flight (the descriptor must outlive it).
                let chunk = try await pending.get()
                try Task.checkCancellation()
                if chunk.readableBytes == 0 { break }  // the file shrank meanwhile
                position += Int64(chunk.readableBytes)
                if position < end { next = read(at: position) }
                let output = type == .ascii ? ByteBuffer(bytes: encoder.encode(chunk.readableBytesView)) : chunk
                try await data.channel.writeAndFlush(IOData.byteBuffer(output))
                sent += Int64(output.readableBytes)
                self.progress.withLockedValue { $0 = sent }
            }
        } catch {
            _ = try? await next?.get()
            throw error
        }
        try await data.finishSending()
        return sent
    }

    /// Sends `[offset, end)` of a file on a connection accepted by ferryd (see `DirectDataSocket`): sendfile on the
    /// event loop as long as the socket takes it, which for a small file is all of it in one call. When the socket's
    /// buffer is full, the connection is handed to NIO, which waits for room and sends the rest.
    func sendDirect(fd: CInt, from offset: Int64, to end: Int64, over socket: DirectDataSocket) async throws -> Int64 {
        var position = offset
        while position < end {
            let sent = cferry_sendfile(socket.fd, fd, &position, Int(end - position))
            if sent > 0 { continue }
            if sent == 0 { break }  // the file shrank meanwhile
            switch errno {
            case EINTR:
                continue
            case EAGAIN, EWOULDBLOCK:
                self.progress.withLockedValue { $0 = position - offset }
                let data = try await ClientBootstrap(group: self.control.eventLoop)
                    .withConnectedSocket(socket.handOver()) { channel in
                        channel.eventLoop.makeCompletedFuture { try self.dataSettings.configure(channel) }
                    }
                let rest = try await Self.use(data, encrypted: false) { stream in
                    try await self.sendFile(fd: fd, from: position, to: end, type: .image, over: stream)
                }
                return position - offset + rest
            default:
                throw IOError(errnoCode: errno, reason: "sendfile to the data connection")
            }
        }
        self.progress.withLockedValue { $0 = position - offset }
        return position - offset
    }

    /// Reads up to `length` bytes at `offset` straight into a buffer (no intermediate array).
    static func readChunk(fd: CInt, offset: Int64, length: Int, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        var buffer = allocator.buffer(capacity: length)
        var failure: CInt = 0
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { bytes in
            while true {
                let count = pread(fd, bytes.baseAddress, length, off_t(offset))
                if count >= 0 { return count }
                if errno == EINTR { continue }
                failure = errno
                return 0
            }
        }
        guard failure == 0 else { throw JailError(errno: failure, path: .root) }
        return buffer
    }

    /// Receives a direct connection into a pending upload with splice(2), on a direct-upload thread (see
    /// `DirectUploads.receive`). Returns the bytes received and the size of the file written.
    func receiveDirect(
        from socket: DirectDataSocket,
        into upload: PendingUpload,
        books: UploadBooks
    ) async throws -> (received: Int64, size: Int64) {
        let configuration = self.context.configuration
        let progress = self.progress
        // A future, not a child task: it completes even if this task is cancelled by ABOR (which shuts the socket
        // down, so the thread stops), and it is always awaited: the caller's cleanup closes the file afterwards.
        return try await self.context.directUploads.run(eventLoop: self.control.eventLoop) {
            try DirectUploads.receive(
                from: socket,
                into: upload,
                books: books,
                chunk: configuration.uploadBatchSize,
                idleTimeout: TimeAmount(configuration.dataIdleTimeout),
                progress: progress
            )
        }.get()
    }

    /// Receives the data connection into a pending upload, writing in large batches on the I/O pool.
    ///
    /// Received bytes are copied into one of two fixed batch buffers; while one is written (and hashed) on the
    /// pool, the other fills (double buffering), so disk and network overlap. Copying lets NIO reuse its receive
    /// buffers at once: holding them instead made it allocate fresh ones all the time, and their page faults cost
    /// more than the copy (60,000 faults per GiB, measured). Memory per upload is thus two batches, whatever the
    /// read sizes. At most one write is ever in flight, and it is always awaited before this returns or throws:
    /// the caller's cleanup closes the descriptor, which must never happen under a running write.
    /// Returns the bytes received and the size of the file written.
    func receiveFile(
        into upload: PendingUpload,
        books: UploadBooks,
        digests: UploadDigests,
        type: TransferType,
        over data: DataStream
    ) async throws -> (received: Int64, size: Int64) {
        let fileIO = self.context.fileIO
        let eventLoop = data.channel.eventLoop
        let batches = UploadBatches(size: self.context.configuration.uploadBatchSize)
        var decoder = ASCIIDecoder()
        var received: Int64 = 0
        // What the temporary file will hold once everything received so far is written.
        var onDisk = upload.initialSize
        // A future, not a child task: it completes even if this task is cancelled by ABOR.
        var inFlight: EventLoopFuture<Void>? = nil
        func flush() async throws {
            // The previous batch must be written before its buffer is filled again.
            try await inFlight?.get()
            guard let batch = batches.takeFilled() else { return }
            // Writing and hashing the batch run side by side on two pool threads; each stage still sees the
            // batches in order, because the next batch waits for both.
            let writing = fileIO.runIfActive(eventLoop: eventLoop) { () throws -> Void in
                try upload.write(batch.bytes)
            }
            if digests.isEmpty {
                inFlight = writing
            } else {
                let hashing = fileIO.runIfActive(eventLoop: eventLoop) { digests.update(batch.bytes) }
                inFlight = writing.and(hashing).map { _ in }
            }
        }
        func append(_ input: ByteBuffer) async throws {
            var input = input
            // Quota: reserve before writing; the first byte over the limit stops the upload with 552.
            onDisk += Int64(input.readableBytes)
            try books.reserve(size: onDisk)
            while input.readableBytes > 0 {
                input.moveReaderIndex(forwardBy: input.withUnsafeReadableBytes { batches.append($0) })
                if batches.isFull { try await flush() }
            }
        }
        // Many TLS clients end an upload by closing TCP without close_notify; accepted as the end of the file unless
        // configured otherwise (the control connection must still be there, checked by the caller).
        // Not when an existing file would be replaced or extended: a truncated upload must never destroy or mangle
        // what was there (a new file that is short is the client's to check).
        let acceptUnclean =
            data.encrypted && self.context.configuration.acceptUncleanTLSDataShutdown && upload.base == nil
        do {
            do {
                for try await buffer in data.inbound {
                    received += Int64(buffer.readableBytes)
                    self.progress.withLockedValue { $0 = received }
                    try await append(
                        type == .ascii ? ByteBuffer(bytes: decoder.decode(buffer.readableBytesView)) : buffer
                    )
                }
            } catch NIOSSLError.uncleanShutdown where acceptUnclean {
                self.logger.debug("TLS data connection closed without close_notify")
            }
            try Task.checkCancellation()
            if type == .ascii {
                try await append(ByteBuffer(bytes: decoder.finish()))
            }
            try await flush()
            try await inFlight?.get()
        } catch {
            _ = try? await inFlight?.get()
            throw error
        }
        return (received, onDisk)
    }
}
