import FerryProtocol
import FerryUsers
import NIOCore

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
        // SECURITY: under the TLS policy, no password crosses the network in clear.
        if self.tlsRequired && self.tlsContext == nil {
            await self.reply(.notLoggedIn, "TLS required: use AUTH TLS (FTPS) before logging in.")
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
        let outcome = await self.context.authenticator.login(name: name, password: Password(password.value))
        let address = self.clientAddress
        var record: UserRecord? = nil
        var knownUser = false
        switch outcome {
        case .busy:
            // Bounded work per login attempt: the queue of password hashes is full (a flood of logins).
            self.logger.warning("login refused: too many logins waiting for a password check")
            self.handle.closeWithReply(FTPReply(.serviceNotAvailable, "Server busy, try again later.").wireFormat)
            return
        case .success(let user):
            record = user
            knownUser = true
        case .failure(let known):
            knownUser = known
        }
        guard let record, let jail = await self.openJail(for: record) else {
            self.failedLogins += 1
            let (delay, banned) = self.context.abuseGuard.loginFailed(from: address, user: name)
            // SECURITY: people type passwords into USER; a name that is no user's is not written to the log.
            self.logger.notice(
                "login failed",
                metadata: [
                    "user": knownUser ? "\(name)" : "(unknown)", "attempt": "\(self.failedLogins)",
                    "banned": "\(banned)",
                ]
            )
            // Slow down guessing: the same (growing) delay for unknown users and wrong passwords.
            // An event-loop timer, not Task.sleep: nothing in a session waits for Swift's global pool.
            try? await self.control.eventLoop.scheduleTask(in: TimeAmount(delay)) {}.futureResult.get()
            await self.reply(.notLoggedIn, "Login incorrect.")
            if banned {
                let minutes = max(1, Int(self.context.configuration.banDuration.components.seconds / 60))
                self.handle.closeWithReply(
                    "421 Too many failed logins from your address; banned for \(minutes) minute(s).\r\n"
                )
            } else if self.failedLogins >= self.context.configuration.maximumLoginAttempts {
                self.handle.closeWithReply("421 Too many failed logins, closing control connection.\r\n")
            }
            return
        }
        self.context.abuseGuard.loginSucceeded(from: address, user: name)
        guard self.context.abuseGuard.admitSession(of: record.name) else {
            self.logger.notice("session limit reached", metadata: ["user": "\(record.name)"])
            self.handle.closeWithReply(
                "421 Too many sessions for this user (limit \(self.context.configuration.maximumSessionsPerUser)).\r\n"
            )
            return
        }
        let quota = self.context.ledger.account(for: record)
        self.login = .loggedIn(LoggedInUser(record: record, jail: jail, quota: quota))
        self.cwd = .root
        self.handle.activity.withLockedValue {
            $0.loggedIn = true
            $0.account = SessionHandle.AccountStamp(record)
        }
        self.logger[metadataKey: "user"] = "\(record.name)"
        self.logger.info("login ok")
        await self.reply(.loggedIn, "User \(record.name) logged in.")
    }

    /// Opens (creating if needed) the user's home. A home that cannot be used fails the login, logged for the
    /// operator; the client sees the same 530 as for a bad password.
    private func openJail(for record: UserRecord) async -> Jail? {
        let path = record.homeDirectory(dataDirectory: self.context.configuration.dataDirectory)
        let isDefaultHome = record.home == nil
        let dataDirectory = self.context.configuration.dataDirectory
        do {
            return try await self.context.fileIO.runIfActive { () throws -> Jail in
                // SECURITY: never a jail around the user database and the TLS key.
                guard !HomeOverlap.containsDataFolder(home: path, dataDirectory: dataDirectory) else {
                    throw JailError(errno: EACCES, path: .root, escapes: true)
                }
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
