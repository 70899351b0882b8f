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
        guard let (target, entries) = await self.gatherListing(path) else { return }
        if format == .machine && target.kind != .directory {
            // RFC 3659 §7.2: MLSD names a directory; MLST is for single entries.
            await self.reply(.syntaxErrorInArguments, "\(path): Not a directory.")
            return
        }
        let lines = self.listingLines(format: format, argument: text, path: path, target: target, entries: entries)
        guard let setup = await self.takeDataSetup() else { return }
        let job = self.transferJob(
            setup: setup,
            command: format == .machine ? "MLSD" : format == .names ? "NLST" : "LIST",
            path: path
        )
        self.startTransfer(job, cleanupBlocks: false) { job, data in
            await job.reply(.fileStatusOK, "Here comes the directory listing.")
            var buffer = data.channel.allocator.buffer(capacity: lines.reduce(0) { $0 + $1.utf8.count + 2 })
            for line in lines {
                buffer.writeString(line)
                buffer.writeStaticString("\r\n")
            }
            let count = Int64(buffer.readableBytes)
            try await data.channel.writeAndFlush(IOData.byteBuffer(buffer))
            try await data.finishSending()
            job.progress.withLockedValue { $0 = count }
            return count
        } cleanup: {
        }
    }

    /// The entry at `path` and, if it is a directory, its entries; replies with the error otherwise.
    private func gatherListing(_ path: VirtualPath) async -> (FileFacts, [FileFacts])? {
        await self.withJail { jail throws(JailError) -> (FileFacts, [FileFacts]) in
            let facts = try jail.facts(at: path)
            return (facts, facts.kind == .directory ? try jail.list(path) : [])
        }
    }

    func listingLines(
        format: ListingFormat,
        argument: String?,
        path: VirtualPath,
        target: FileFacts,
        entries: [FileFacts]
    ) -> [String] {
        let now = Int64(time(nil))
        switch format {
        case .long:
            if target.kind != .directory { return [ListFormat.line(for: target, now: now)] }
            return entries.map { ListFormat.line(for: $0, now: now) }
        case .names:
            if target.kind != .directory { return [argument ?? target.name] }
            // `NLST dir` names entries as `dir/name` so that a client can RETR each line as it is.
            let prefix: String
            if let argument, !argument.isEmpty, argument != "." {
                prefix = argument.hasSuffix("/") ? argument : argument + "/"
            } else {
                prefix = ""
            }
            return entries.map { prefix + $0.name }
        case .machine:
            var current = target
            current.name = "."
            var lines = [MLSFormat.line(for: current, facts: self.mlstFacts, role: .currentDirectory)]
            lines += entries.map { MLSFormat.line(for: $0, facts: self.mlstFacts) }
            return lines
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
    func handleSTAT(path text: String) async {
        guard let path = await self.resolve(text) else { return }
        guard let (target, entries) = await self.gatherListing(path) else { return }
        let lines = self.listingLines(format: .long, argument: text, path: path, target: target, entries: entries)
        await self.reply(FTPReply(.fileStatus, lines: ["Status of \(path):"] + lines + ["End of status"]))
    }
}
