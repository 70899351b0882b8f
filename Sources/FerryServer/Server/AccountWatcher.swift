import FerryUsers
import Logging
import NIOCore

/// Ends the sessions of accounts the administrator changed while they were logged in.
///
/// `ferryd user passwd` and `ferryd user remove` run in another process and write the user store. Every
/// `interval` this checks whether another process changed the store at all (`UserStore.externalChangeCounter`, one
/// cheap query), and only then reads the records of the users logged in now. A session whose account was removed,
/// recreated under the same name, or given a new password is marked revoked and ends at its next command with 421:
/// whoever had the old password, or the old account, keeps no access.
struct AccountWatcher {
    let context: ServerContext
    let interval: Duration

    /// Runs until the server shuts down. Waits with an event-loop timer, not `Task.sleep`: like the sessions, the
    /// watcher never waits for Swift's global pool, which other code in the process may keep busy.
    func run(on eventLoop: EventLoop) async {
        var seen: Int64? = nil
        while !self.context.registry.isShuttingDown {
            try? await eventLoop.scheduleTask(in: TimeAmount(self.interval)) {}.futureResult.get()
            guard let counter = try? await self.context.store.externalChangeCounter() else { continue }
            defer { seen = counter }
            guard let previous = seen, previous != counter else { continue }
            await self.check()
        }
    }

    /// Compares every logged-in session's account with the store; marks the stale ones revoked.
    func check() async {
        let sessions = self.context.registry.sessions.compactMap { handle in
            handle.activity.withLockedValue { $0.revoked ? nil : $0.account }.map { (handle, $0) }
        }
        var current: [String: SessionHandle.AccountStamp?] = [:]
        for name in Set(sessions.map(\.1.name)) {
            do {
                current[name] = try await self.context.store.user(named: name).map(SessionHandle.AccountStamp.init)
            } catch {
                // The store cannot be read now: decide nothing, try again at the next change.
                self.context.logger.warning("cannot check accounts", metadata: ["error": "\(error)"])
                return
            }
        }
        for (handle, stamp) in sessions where current[stamp.name] != .some(stamp) {
            handle.activity.withLockedValue { $0.revoked = true }
            self.context.authenticator.credentialCache.invalidate(user: stamp.name)
            self.context.logger.notice(
                "account changed by the administrator: its sessions end",
                metadata: ["user": "\(stamp.name)"]
            )
        }
    }
}
