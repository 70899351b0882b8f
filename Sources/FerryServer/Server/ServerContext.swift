import FerryTLS
import FerryUsers
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// What every session shares: configuration, users, thread pool for disk I/O, and the registry used to shut
/// sessions down.
final class ServerContext: Sendable {
    let configuration: ServerConfiguration
    let store: UserStore
    let authenticator: Authenticator
    let logger: Logger
    let group: EventLoopGroup
    /// Disk I/O runs here, never on an event loop.
    let fileIO: NIOThreadPool
    let registry = SessionRegistry()
    let ledger: QuotaLedger
    let digestCache = DigestCache()
    let abuseGuard: AbuseGuard
    /// The TLS contexts (nil when FTPS is off).
    let tls: TLSContextProvider?
    /// Checksums and the copies of REST n + STOR, on threads of their own, bounded per user.
    let bulkIO: BulkIO
    /// Trims the heap once a burst of transfers is over.
    let memory: MemoryReclaimer
    /// The threads of plain binary uploads spliced into their files.
    let directUploads: DirectUploads

    init(
        configuration: ServerConfiguration,
        store: UserStore,
        authenticator: Authenticator,
        logger: Logger,
        group: EventLoopGroup,
        fileIO: NIOThreadPool,
        tls: TLSContextProvider?
    ) {
        self.tls = tls
        self.configuration = configuration
        self.store = store
        self.authenticator = authenticator
        self.logger = logger
        self.group = group
        self.fileIO = fileIO
        self.ledger = QuotaLedger(store: store, logger: logger)
        self.directUploads = DirectUploads(capacity: configuration.directUploadThreads)
        self.bulkIO = BulkIO(
            threads: configuration.bulkThreads,
            total: configuration.maximumConcurrentChecksums,
            perUser: configuration.maximumBulkOperationsPerUser
        )
        self.memory = MemoryReclaimer(
            eventLoop: group.next(),
            delay: configuration.memoryTrimDelay.map(TimeAmount.init),
            fileIO: fileIO
        )
        self.abuseGuard = AbuseGuard(
            limits: .init(
                maximumConnections: configuration.maximumConnections,
                maximumConnectionsPerAddress: configuration.maximumConnectionsPerAddress,
                maximumSessionsPerUser: configuration.maximumSessionsPerUser,
                failedLoginDelay: configuration.failedLoginDelay,
                maximumFailedLoginDelay: configuration.maximumFailedLoginDelay,
                failuresBeforeBan: configuration.failuresBeforeBan,
                banDuration: configuration.banDuration,
                failureWindow: configuration.failureWindow,
                connectionRate: configuration.maximumConnectionRatePerAddress,
                connectionBurst: configuration.connectionBurstPerAddress
            )
        )
    }

    var dataSettings: DataChannelSettings {
        DataChannelSettings(
            idleTimeout: TimeAmount(self.configuration.dataIdleTimeout),
            connectTimeout: TimeAmount(self.configuration.dataConnectionTimeout),
            unsentLimit: self.configuration.unsentLimit(whileRunning: self.memory.runningTransfers)
        )
    }
}

/// The sessions alive right now, so a shutdown can reach them.
final class SessionRegistry: Sendable {
    private struct State {
        var nextID = 0
        var sessions: [Int: SessionHandle] = [:]
        var shuttingDown = false
    }

    private let state = NIOLockedValueBox(State())

    /// Registers a session; returns nil if the server is already shutting down.
    func register(_ handle: SessionHandle) -> Int? {
        self.state.withLockedValue { state in
            guard !state.shuttingDown else { return nil }
            state.nextID += 1
            state.sessions[state.nextID] = handle
            return state.nextID
        }
    }

    func unregister(_ id: Int) {
        _ = self.state.withLockedValue { $0.sessions.removeValue(forKey: id) }
    }

    var count: Int { self.state.withLockedValue { $0.sessions.count } }

    var isShuttingDown: Bool { self.state.withLockedValue { $0.shuttingDown } }

    var sessions: [SessionHandle] { self.state.withLockedValue { Array($0.sessions.values) } }

    /// Marks the server as shutting down and returns the sessions to notify.
    func beginShutdown() -> [SessionHandle] {
        self.state.withLockedValue { state in
            state.shuttingDown = true
            return Array(state.sessions.values)
        }
    }
}

/// The thread-safe face of a session: its activity clock and its control channel.
final class SessionHandle: Sendable {
    struct Activity {
        var lastCommand: NIODeadline
        var transferActive = false
        /// A command is being handled (a login's password hash, a long checksum, …): the session is not idle.
        var commandInProgress = false
        var loggedIn = false
        var shutdownRequested = false
        /// Who is logged in, as of the login: a change by the administrator makes the record differ.
        var account: AccountStamp? = nil
        /// The administrator changed the password of, removed or recreated the account: the session ends at its
        /// next command.
        var revoked = false
    }

    /// What identifies the account a session logged in to: the same name removed and added again, or a new password
    /// set by the administrator, give another stamp (a transparent hash upgrade does not).
    struct AccountStamp: Equatable, Sendable {
        var name: String
        var createdAt: Date
        var passwordChangedAt: Date

        init(_ record: UserRecord) {
            self.name = record.name
            self.createdAt = record.createdAt
            self.passwordChangedAt = record.passwordChangedAt
        }
    }

    let channel: Channel
    let activity: NIOLockedValueBox<Activity>

    init(channel: Channel) {
        self.channel = channel
        self.activity = NIOLockedValueBox(Activity(lastCommand: .now()))
    }

    /// Closes the session now if it is idle, or after its transfer otherwise.
    func requestShutdown() {
        let idle = self.activity.withLockedValue { activity in
            activity.shutdownRequested = true
            return !activity.transferActive
        }
        if idle { self.closeWithReply(FTPShutdownReply.text) }
    }

    func closeWithReply(_ text: String) {
        let channel = self.channel
        channel.eventLoop.execute {
            var buffer = channel.allocator.buffer(capacity: text.utf8.count)
            buffer.writeString(text)
            channel.writeAndFlush(buffer).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

enum FTPShutdownReply {
    static let text = "421 Server shutting down, closing control connection.\r\n"
}
