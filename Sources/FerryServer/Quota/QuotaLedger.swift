import FerryUsers
import Logging
import NIOConcurrencyHelpers

/// The quota books of every user that has logged in since the server started, one account per user.
final class QuotaLedger: Sendable {
    private let accounts = NIOLockedValueBox<[String: QuotaAccount]>([:])
    let store: UserStore
    let logger: Logger

    init(store: UserStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// The user's account, created from `record` on first use and refreshed from the store otherwise.
    func account(for record: UserRecord) -> QuotaAccount {
        let (account, created) = self.accounts.withLockedValue { accounts -> (QuotaAccount, Bool) in
            if let existing = accounts[record.name] { return (existing, false) }
            let account = QuotaAccount(record: record)
            accounts[record.name] = account
            return (account, true)
        }
        // Limits only: the record was read at login, before whatever this user's other sessions changed since, so
        // its usage may be stale (`refresh` reads the usage with a generation taken before the read).
        if !created { account.refresh(from: record, readAtGeneration: -1) }
        return account
    }

    /// Re-reads limits (and, when nothing is in flight, usage) from the store; a failure keeps the books as they are.
    func refresh(_ account: QuotaAccount) async {
        let generation = account.generation
        do {
            if let record = try await self.store.user(named: account.name) {
                account.refresh(from: record, readAtGeneration: generation)
            }
        } catch {
            self.logger.warning("cannot read quota", metadata: ["user": "\(account.name)", "error": "\(error)"])
        }
    }
}
