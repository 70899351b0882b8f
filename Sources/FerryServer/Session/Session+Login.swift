import FerryProtocol
import FerryUsers

#if canImport(Glibc)
    import Glibc
#endif

/// USER, PASS, QUIT.
extension Session {
    func handleUSER(_ name: String) async {
        if self.isLoggedIn {
            await self.reply(.notLoggedIn, "Already logged in; reconnect to change user.")
            return
        }
        self.login = .awaitingPassword(user: name)
        // SECURITY: the same reply for every name, existing or not: no user enumeration.
        await self.reply(.needPassword, "Password required.")
    }

    func handlePASS(_ password: FTPCommand.Password) async {
        guard case .awaitingPassword(let name) = self.login else {
            if self.isLoggedIn {
                await self.reply(.commandSuperfluous, "Already logged in.")
            } else {
                await self.reply(.badSequence, "Login with USER first.")
            }
            return
        }
        self.login = .awaitingUser
        let record = await self.context.authenticator.authenticate(name: name, password: Password(password.value))
        guard let record, let jail = await self.openJail(for: record) else {
            self.failedLogins += 1
            self.logger.notice("login failed", metadata: ["user": "\(name)", "attempt": "\(self.failedLogins)"])
            // Slow down guessing; the same delay for unknown users and wrong passwords.
            try? await Task.sleep(for: self.context.configuration.failedLoginDelay)
            await self.reply(.notLoggedIn, "Login incorrect.")
            if self.failedLogins >= self.context.configuration.maximumLoginAttempts {
                self.handle.closeWithReply("421 Too many failed logins, closing control connection.\r\n")
            }
            return
        }
        let quota = self.context.ledger.account(for: record)
        self.login = .loggedIn(LoggedInUser(record: record, jail: jail, quota: quota))
        self.cwd = .root
        self.handle.activity.withLockedValue { $0.loggedIn = true }
        self.logger[metadataKey: "user"] = "\(record.name)"
        self.logger.info("login ok")
        await self.reply(.loggedIn, "User \(record.name) logged in.")
    }

    /// Opens (creating if needed) the user's home. A home that cannot be used fails the login, logged for the
    /// operator; the client sees the same 530 as for a bad password.
    private func openJail(for record: UserRecord) async -> Jail? {
        let path = record.homeDirectory(dataDirectory: self.context.configuration.dataDirectory)
        let isDefaultHome = record.home == nil
        do {
            return try await self.context.fileIO.runIfActive { () throws -> Jail in
                if isDefaultHome { _ = mkdir(path, 0o755) }
                return try Jail(homePath: path)
            }
        } catch {
            self.logger.error("home directory unusable", metadata: ["home": "\(path)", "error": "\(error)"])
            return nil
        }
    }

    func handleQUIT() async {
        self.quitRequested = true
        await self.reply(.closingControl, "Goodbye.")
    }
}
