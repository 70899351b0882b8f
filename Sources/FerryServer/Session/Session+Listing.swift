import FerryProtocol
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// LIST, NLST, MLSD (over the data connection), MLST and STAT path (over the control connection).
extension Session {
    enum ListingFormat {
        /// LIST: `ls -l` lines.
        case long
        /// NLST: names only.
        case names
        /// MLSD: RFC 3659 fact lines.
        case machine
    }

    func handleLIST(_ text: String?, format: ListingFormat) async {
        guard let path = await self.resolve(text ?? ".") else { return }
        let limit = self.context.configuration.maximumListingNameBytes
        // The target (and, for a directory, its sorted names) before the data connection is used, so that a
        // missing or unreadable directory gets its 550 at once.
        guard
            let (target, listing) = await self.withJail({ jail throws(JailError) in
                try DirectoryListing.open(jail: jail, path: path, maximumNameBytes: limit)
            })
        else { return }
        if format == .machine && target.kind != .directory {
            // RFC 3659 §7.2: MLSD names a directory; MLST is for single entries.
            await self.reply(.syntaxErrorInArguments, "\(path): Not a directory.")
            return
        }
        let writer = ListingWriter(format: format, argument: text, facts: self.mlstFacts, now: Int64(time(nil)))
        guard let setup = await self.takeDataSetup() else { return }
        let job = self.transferJob(
            setup: setup,
            command: format == .machine ? "MLSD" : format == .names ? "NLST" : "LIST",
            path: path
        )
        self.startTransfer(job, cleanupBlocks: false) { job, data in
            await job.reply(.fileStatusOK, "Here comes the directory listing.")
            var sent: Int64 = 0
            func send(_ buffer: ByteBuffer) async throws {
                guard buffer.readableBytes > 0 else { return }
                sent += Int64(buffer.readableBytes)
                try await data.channel.writeAndFlush(IOData.byteBuffer(buffer))
                job.progress.withLockedValue { $0 = sent }
            }
            var head = ByteBuffer()
            writer.writeHead(target: target, into: &head)
            if let listing {
                // Streamed: batches are read and formatted on the I/O pool, two at a time (one per core) while
                // the previous one is sent; memory stays at a few batches whatever the directory's size.
                let fileIO = job.context.fileIO
                let eventLoop = data.channel.eventLoop
                var ranges = listing.batches(of: job.context.configuration.listingBatchSize)[...]
                func start() -> EventLoopFuture<ByteBuffer>? {
                    guard let range = ranges.popFirst() else { return nil }
                    return fileIO.runIfActive(eventLoop: eventLoop) {
                        var buffer = ByteBuffer()
                        writer.write(listing.facts(in: range, unique: writer.usesUnique), into: &buffer)
                        return buffer
                    }
                }
                var running = [start(), start()].compactMap { $0 }[...]
                try await send(head)
                while let oldest = running.popFirst() {
                    if let next = start() { running.append(next) }
                    try await send(try await oldest.get())
                }
            } else {
                try await send(head)
            }
            try await data.finishSending()
            return sent
        } cleanup: {
        }
    }

    /// MLST (RFC 3659 §7.2): the facts of one entry on the control connection.
    func handleMLST(_ text: String?) async {
        guard let path = await self.resolve(text ?? ".") else { return }
        guard var facts = await self.withJail({ jail throws(JailError) in try jail.facts(at: path) }) else { return }
        facts.name = path.string
        let line = MLSFormat.line(
            for: facts,
            facts: self.mlstFacts,
            role: path == self.cwd ? .currentDirectory : .entry,
            extra: path.isRoot ? self.quotaFacts : []
        )
        await self.reply(FTPReply(.fileActionOK, lines: ["Listing \(path)", " " + line, "End"]))
    }

    /// STAT path (RFC 959): a LIST of the path over the control connection.
    ///
    /// Streamed like LIST: the reply goes out batch by batch as the facts are read, so a directory of any size
    /// costs a few batches of memory (it used to build the whole reply first).
    func handleSTAT(path text: String) async {
        guard let path = await self.resolve(text) else { return }
        let limit = self.context.configuration.maximumListingNameBytes
        guard
            let (target, listing) = await self.withJail({ jail throws(JailError) in
                try DirectoryListing.open(jail: jail, path: path, maximumNameBytes: limit)
            })
        else { return }
        let writer = ListingWriter(format: .long, argument: text, facts: self.mlstFacts, now: Int64(time(nil)))
        var head = FTPReply.firstLine(code: .fileStatus, "Status of \(path):")
        for line in writer.head(target: target) { head += FTPReply.middleLine(line) }
        await self.send(raw: head)
        if let listing {
            for range in listing.batches(of: self.context.configuration.listingBatchSize) {
                let lines = try? await self.context.fileIO.runIfActive {
                    listing.facts(in: range, unique: false).map { FTPReply.middleLine(writer.line(for: $0)) }.joined()
                }
                // The connection is gone (or the pool stopped): the reply cannot be finished anyway.
                guard let lines, self.control.isActive else { return }
                await self.send(raw: lines)
            }
        }
        await self.reply(.fileStatus, "End of status")
    }

    /// Writes bytes of a reply sent in pieces and waits for the flush (a slow reader holds the next batch back).
    private func send(raw text: String) async {
        try? await self.control.writeAndFlush(ByteBuffer(string: text)).get()
    }
}

/// Turns facts into the lines of LIST, NLST or MLSD (CRLF-terminated on the data connection).
struct ListingWriter: Sendable {
    let format: Session.ListingFormat
    /// `NLST dir` names entries as `dir/name`, so that a client can RETR each line as it is.
    let namePrefix: String
    /// The argument as given (NLST of a single file answers with it).
    let argument: String?
    let facts: Set<MLSFact>
    /// `facts` in line order, looked up once per listing.
    let orderedFacts: [MLSFact]
    /// The time that decides between the "recent" and "old" date forms of LIST.
    let now: Int64

    init(format: Session.ListingFormat, argument: String?, facts: Set<MLSFact>, now: Int64) {
        self.format = format
        self.argument = argument
        self.facts = facts
        self.orderedFacts = MLSFact.ordered(facts)
        self.now = now
        if let argument, !argument.isEmpty, argument != "." {
            self.namePrefix = argument.hasSuffix("/") ? argument : argument + "/"
        } else {
            self.namePrefix = ""
        }
    }

    /// What comes before the entries: MLSD's `type=cdir` line, or the one line describing a target that is not a
    /// directory.
    func head(target: FileFacts) -> [String] {
        if target.kind != .directory {
            switch self.format {
            case .long: return [ListFormat.line(for: target, now: self.now)]
            case .names: return [self.argument ?? target.name]
            case .machine: return []
            }
        }
        guard self.format == .machine else { return [] }
        var current = target
        current.name = "."
        return [MLSFormat.line(for: current, facts: self.facts, role: .currentDirectory)]
    }

    func line(for entry: FileFacts) -> String {
        switch self.format {
        case .long: return ListFormat.line(for: entry, now: self.now)
        case .names: return self.namePrefix + entry.name
        case .machine: return MLSFormat.line(for: entry, facts: self.facts)
        }
    }

    /// All lines of a listing, for replies on the control connection.
    func lines(target: FileFacts, entries: [FileFacts]) -> [String] {
        self.head(target: target) + entries.map(self.line(for:))
    }

    /// Whether the lines show MLSx's `unique` fact (so the entries' facts must carry it).
    var usesUnique: Bool { self.format == .machine && self.facts.contains(.unique) }

    func writeHead(target: FileFacts, into buffer: inout ByteBuffer) {
        for line in self.head(target: target) { Self.append(line, to: &buffer) }
    }

    func write(_ entries: [FileFacts], into buffer: inout ByteBuffer) {
        // Formatted straight into bytes: no string per line.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(entries.count * 96)
        for entry in entries {
            switch self.format {
            case .long: ListFormat.write(entry, now: self.now, into: &bytes)
            case .names: bytes += (self.namePrefix + entry.name).utf8
            case .machine: MLSFormat.write(entry, ordered: self.orderedFacts, into: &bytes)
            }
            bytes += [13, 10]
        }
        buffer.writeBytes(bytes)
    }

    private static func append(_ line: String, to buffer: inout ByteBuffer) {
        buffer.writeString(line)
        buffer.writeStaticString("\r\n")
    }
}
