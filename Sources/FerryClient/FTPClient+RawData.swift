import NIOCore

/// Data transfers without any of the checks of ``FTPClient/download(_:to:resume:control:progress:)`` (no SIZE, no
/// checksum, no temporary file): for load generators such as `ferry-bench`, and for commands whose data is not a
/// file (LIST, MLSD, NLST). Use the verified transfers for anything a user keeps.
extension FTPClient {
    /// Sends `command` (e.g. `RETR big.bin`, `MLSD dir`) over a fresh data connection and hands each chunk to
    /// `consume` as it arrives.
    ///
    /// - Returns: The number of bytes received.
    /// - Throws: ``FTPClientError`` when the server refuses or the transfer fails.
    @discardableResult
    public func receiveData(
        _ command: String,
        into consume: (ByteBuffer) async throws -> Void = { _ in }
    ) async throws
        -> Int64
    {
        try await self.withDataTransfer(command) { inbound, _ in
            var count: Int64 = 0
            for try await chunk in inbound {
                count += Int64(chunk.readableBytes)
                try await consume(chunk)
            }
            return count
        }
    }

    /// Sends `command` (e.g. `STOR name`, `APPE name`) and writes every buffer of `source` to the data connection,
    /// then closes it and waits for the server's final reply.
    ///
    /// - Returns: The number of bytes sent.
    /// - Throws: ``FTPClientError`` when the server refuses or the transfer fails.
    @discardableResult
    public func sendData<Source: AsyncSequence>(_ command: String, from source: Source) async throws -> Int64
    where Source.Element == ByteBuffer {
        try await self.withDataTransfer(command) { _, channel in
            var count: Int64 = 0
            // Two writes in flight: the next buffer is queued while the kernel takes the previous one.
            var pending: EventLoopFuture<Void>? = nil
            for try await chunk in source {
                count += Int64(chunk.readableBytes)
                let written: EventLoopFuture<Void> = channel.writeAndFlush(chunk)
                try await pending?.get()
                pending = written
            }
            try await pending?.get()
            return count
        }
    }
}
