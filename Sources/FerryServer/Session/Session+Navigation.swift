import FerryProtocol

/// CWD/CDUP, MKD, RMD, DELE, RNFR/RNTO, SIZE, MDTM (PWD is a one-liner in the dispatch).
extension Session {
    func handleCWD(_ text: String) async {
        guard let path = await self.resolve(text) else { return }
        guard let facts = await self.withJail({ jail throws(JailError) in try jail.facts(at: path) }) else { return }
        guard facts.kind == .directory else {
            await self.reply(.fileUnavailable, "\(path): Not a directory.")
            return
        }
        self.cwd = path
        await self.reply(.fileActionOK, "Directory changed to \(path).")
    }

    func handleMKD(_ text: String) async {
        guard let path = await self.resolve(text), let quota = self.user?.quota else { return }
        await self.context.ledger.refresh(quota)
        // QUOTA: a directory counts as one file, so MKD cannot create entries without bound. Decided and created
        // under the user's `changes` lock, like every other change of the books.
        guard
            let refused = await self.withJail({ jail throws(JailError) -> QuotaExceeded? in
                quota.changes.lock()
                defer { quota.changes.unlock() }
                do throws(QuotaExceeded) {
                    try quota.admitDirectory(path: path)
                } catch {
                    return error
                }
                do throws(JailError) {
                    try jail.makeDirectory(path)
                } catch {
                    quota.rollbackDirectory()
                    throw error
                }
                return nil
            })
        else { return }
        if let refused {
            await self.reply(refused.reply)
            return
        }
        await quota.persist(bytes: 0, files: 1, store: self.context.store, logger: self.logger)
        self.logger.info("mkdir", metadata: ["path": "\(path)"])
        await self.reply(.pathCreated, FTPReply.quotedPath(path.string) + " directory created.")
    }

    func handleRMD(_ text: String) async {
        guard let path = await self.resolve(text), let quota = self.user?.quota else { return }
        guard
            await self.withJail({ jail throws(JailError) -> Bool in
                quota.changes.lock()
                defer { quota.changes.unlock() }
                try jail.removeDirectory(path)
                quota.apply(bytes: 0, files: -1)
                return true
            }) != nil
        else { return }
        await quota.persist(bytes: 0, files: -1, store: self.context.store, logger: self.logger)
        // A removed working directory would leave the session nowhere; step out of it.
        if self.cwd.isDescendant(of: path) { self.cwd = path.parent }
        self.logger.info("rmdir", metadata: ["path": "\(path)"])
        await self.reply(.fileActionOK, "Directory removed.")
    }

    func handleDELE(_ text: String) async {
        guard let path = await self.resolve(text), let quota = self.user?.quota else { return }
        // Under the user's `changes` lock, so the size accounted for is the size removed.
        guard
            let removed = await self.withJail({ jail throws(JailError) in
                quota.changes.lock()
                defer { quota.changes.unlock() }
                let size = try jail.removeFile(path)
                if let size { quota.apply(bytes: -size, files: -1) }
                return size
            })
        else { return }
        if let size = removed {
            await quota.persist(bytes: -size, files: -1, store: self.context.store, logger: self.logger)
        }
        self.logger.info("delete", metadata: ["path": "\(path)"])
        await self.reply(.fileActionOK, "File deleted.")
    }

    func handleRNFR(_ text: String) async {
        guard let path = await self.resolve(text) else { return }
        guard await self.withJail({ jail throws(JailError) in try jail.checkExists(path) }) != nil else { return }
        self.renameFrom = path
        await self.reply(.pendingFurtherInformation, "Ready for RNTO.")
    }

    func handleRNTO(_ text: String) async {
        guard let source = self.renameFrom else {
            await self.reply(.badSequence, "RNFR required first.")
            return
        }
        self.renameFrom = nil
        guard let destination = await self.resolve(text), let quota = self.user?.quota else { return }
        // Renaming over a file frees that file's space.
        guard
            let replaced = await self.withJail({ jail throws(JailError) in
                quota.changes.lock()
                defer { quota.changes.unlock() }
                let replaced = try jail.rename(from: source, to: destination)
                if let replaced { quota.apply(bytes: -replaced.bytes, files: -1) }
                return replaced
            })
        else { return }
        if let replaced = replaced {
            await quota.persist(bytes: -replaced.bytes, files: -1, store: self.context.store, logger: self.logger)
        }
        self.logger.info("rename", metadata: ["from": "\(source)", "to": "\(destination)"])
        await self.reply(.fileActionOK, "Rename successful.")
    }

    func handleSIZE(_ text: String) async {
        guard let facts = await self.regularFileFacts(text) else { return }
        await self.reply(.fileStatus, String(facts.size))
    }

    func handleMDTM(_ text: String) async {
        guard let facts = await self.regularFileFacts(text) else { return }
        await self.reply(.fileStatus, MLSFormat.timeValue(facts.modified))
    }

    /// SIZE and MDTM apply to plain files only (RFC 3659 §4.2, §3.2).
    private func regularFileFacts(_ text: String) async -> FileFacts? {
        guard let path = await self.resolve(text) else { return nil }
        guard let facts = await self.withJail({ jail throws(JailError) in try jail.facts(at: path) }) else {
            return nil
        }
        guard facts.kind == .file else {
            await self.reply(.fileUnavailable, "\(path): Not a plain file.")
            return nil
        }
        return facts
    }
}
