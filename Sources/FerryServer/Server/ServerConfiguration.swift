import FerryProtocol
import FerryUsers
import NIOCore

/// Everything an operator can tune, in one place, with the defaults documented beside each value.
///
/// Every limit that protects the server from a client is here so it can be changed without a rebuild.
public struct ServerConfiguration: Sendable {
    /// Address to listen on (`127.0.0.1`, `::1`, `0.0.0.0`, `::`).
    public var host: String = "127.0.0.1"
    /// Control port; 0 picks a free port (tests).
    public var port: Int = 2121
    /// The data folder: the SQLite user store and `homes/`.
    public var dataDirectory: String = "ferry-data"
    /// Ports for passive data connections; nil lets the kernel choose any free port.
    public var passivePorts: ClosedRange<Int>? = nil
    /// The IPv4 address announced in 227 replies (for NAT); nil announces the control connection's local address.
    public var passiveAddress: String? = nil
    /// A session with no command for this long is closed with 421 (not while a transfer is running).
    public var idleTimeout: Duration = .seconds(300)
    /// A client must log in within this time after connecting.
    public var loginTimeout: Duration = .seconds(60)
    /// How long a PASV/EPSV listener waits for the client, and an active connect may take.
    public var dataConnectionTimeout: Duration = .seconds(30)
    /// How long a session's passive port stays open without a PASV/EPSV, so the next one reuses it (no new socket
    /// per transfer). Connections to it between transfers are refused. 0 closes it after every transfer.
    public var passivePortLinger: Duration = .seconds(2)
    /// A data connection on which no byte moves for this long is aborted.
    public var dataIdleTimeout: Duration = .seconds(120)
    /// Longest accepted control line in bytes (a path of 4096 bytes plus the verb fits).
    public var maximumLineLength: Int = 4096 + 512
    /// Listen backlog; large so a burst of connects is queued, not refused.
    public var backlog: Int32 = 4096
    /// After SIGTERM, transfers in flight get this long to finish before sessions are closed.
    public var shutdownGracePeriod: Duration = .seconds(10)
    /// Password hash used for new and upgraded hashes.
    public var passwordAlgorithm: PasswordHashAlgorithm = .recommended
    /// Most password hashes computed at once (each scrypt hash holds 32 MiB).
    public var maximumConcurrentHashes: Int = 2
    /// Most logins waiting for (or running) a password hash at once; further logins get 421 (see `Authenticator`).
    public var maximumQueuedHashes: Int = 64
    /// Delay before a failed login is answered, to slow down guessing; it doubles with every further failure
    /// from the same address, up to `maximumFailedLoginDelay`.
    public var failedLoginDelay: Duration = .seconds(1)
    public var maximumFailedLoginDelay: Duration = .seconds(16)
    /// Failed logins allowed on one connection before it is closed.
    public var maximumLoginAttempts: Int = 3
    /// Failed logins from one address (within `failureWindow`) after which it is banned for `banDuration`.
    public var failuresBeforeBan: Int = 10
    public var banDuration: Duration = .seconds(15 * 60)
    public var failureWindow: Duration = .seconds(15 * 60)
    /// Connections at once, in all and from one address; sessions at once of one user.
    public var maximumConnections: Int = 10_000
    public var maximumConnectionsPerAddress: Int = 64
    public var maximumSessionsPerUser: Int = 32
    /// New connections per second accepted from one address (0: no limit), with bursts up to
    /// `connectionBurstPerAddress`; faster ones get 421 before any TLS handshake or session exists. Local clients
    /// (`isLocal`: loopback by default) are not rate limited.
    public var maximumConnectionRatePerAddress: Double = 50
    public var connectionBurstPerAddress: Double = 200
    /// IPv6 clients are counted by this prefix (limits, bans, login failures): one host usually owns a whole /64.
    public var ipv6PrefixLength: Int = ClientAddress.defaultIPv6PrefixLength
    /// How often the user store is checked for changes made by `ferryd user passwd/remove` while sessions of that
    /// user are logged in; such sessions end at their next command (see `AccountWatcher`).
    public var accountCheckInterval: Duration = .seconds(1)
    /// Recount every home at start-up (homes may have changed while the server was down) and remove stale
    /// temporary uploads.
    public var reconcileUsageAtStartup = true
    /// Most long disk operations (checksums: HASH, XSHA256, …; the copies of REST n + STOR) running or waiting at
    /// once, and of one user; more get 450 and may retry. They run on `bulkThreads` threads of their own, so metadata
    /// operations never wait behind them.
    /// (A client verifying parallel transfers, `ferry mirror -j 32` or lftp, asks one HASH per session at once: the
    /// per-user limit must not be below that, or verification fails with 450.)
    public var maximumConcurrentChecksums = 64
    public var maximumBulkOperationsPerUser = 32
    public var bulkThreads = 2
    /// fsync every upload before it becomes visible, and its directory after (see `PendingUpload.commit`); off only
    /// for scratch servers: a power loss may then leave acknowledged uploads empty.
    public var durableUploads = true
    /// Bytes read from disk per I/O call during downloads (two chunks per download are in memory at most).
    public var transferChunkSize: Int = 1 << 20
    /// Bytes not yet sent that the kernel queues per data connection (TCP_NOTSENT_LOWAT), for connections opened
    /// while at least `dataUnsentLimitTransfers` transfers run; the others keep the kernel's default, as much as the
    /// send buffer holds. 0 turns the limit off. See `DataChannelSettings.unsentLimit`.
    public var dataUnsentLimit: Int = 256 << 10
    /// How many transfers must be running for a new data connection to get `dataUnsentLimit` (0: every one). A lone
    /// download keeps the full buffer: on loopback the limit cost one 1 GiB download 5-15 % (a wake-up per 256 KiB).
    public var dataUnsentLimitTransfers: Int = 4
    /// Bytes of an upload collected before they are written in one trip to the I/O pool. An upload holds two
    /// buffers of this size (one being written while the other fills). Measured on tmpfs with received bytes copied
    /// into them: 256 KiB, 1 MiB and 4 MiB all about 2.0-2.3 GB/s; 1 MiB keeps 200 concurrent uploads at 400 MiB.
    public var uploadBatchSize: Int = 1 << 20
    /// Binary downloads on clear data connections of at most this many bytes go out with one sendfile (no copy, no
    /// trip to the I/O pool); larger ones are read in `transferChunkSize` chunks, one ahead of the one being sent.
    /// Measured on loopback (Linux 6.18, tmpfs): 1 GiB with curl 4.5 GB/s read-ahead vs 3.2 GB/s sendfile, and
    /// 200 × 10 MiB 2.76 vs 2.20 GB/s. `Int64.max` sends everything with sendfile, 0 nothing.
    public var sendfileMaximumSize: Int64 = 1 << 20
    /// Plain binary uploads in passive mode (no TLS, not hashed while they arrive) are received with splice(2) on
    /// threads of their own: the kernel copies each byte once, into the file, where the event-loop path copies it
    /// into a batch and again into the file, on two threads. At most this many run at once (one thread each, for
    /// as long as the client sends); more take the event-loop path. 0 turns them off.
    /// Measured on loopback (tmpfs, curl, 1 GiB): see BENCHMARKS.md.
    public var directUploadThreads: Int = 8
    /// Compute SHA-256 while receiving every upload, so that a later HASH is answered from the digest cache at once.
    /// Off by default: hashing costs about a third of a core per GB/s of uploads, and most uploads are never asked
    /// for; HASH then reads the file once and caches the result. (Uploads with `SITE EXPECT` are always hashed
    /// while they arrive: the digest decides whether they are committed.)
    public var hashUploads = false
    /// Quiet time after the last transfer ends before freed heap memory is returned to the system
    /// (`malloc_trim`); nil never trims.
    public var memoryTrimDelay: Duration? = .seconds(2)
    /// Most memory one listing (LIST, NLST, MLSD, STAT path) may take for the names it sorts, about 40 bytes a name:
    /// 64 MiB is some 1.5 million entries. A larger directory gets 550.
    public var maximumListingNameBytes = 64 << 20
    /// Directory entries read and formatted per step of a streamed LIST/NLST/MLSD.
    public var listingBatchSize = 512

    /// Whether clients must use TLS (FTPS) before logging in.
    public enum TLSPolicy: String, Sendable, CaseIterable {
        /// USER before AUTH TLS gets 530.
        case required
        /// Clear and TLS logins are both accepted.
        case optional
        /// No FTPS at all: AUTH gets 502 and FEAT does not offer it.
        case off
        /// Required for clients that are not local (`isLocal`), optional for local ones. The default.
        case automatic
    }

    /// Whether data connections must be protected (PROT P) when transferring.
    public enum DataProtectionPolicy: String, Sendable, CaseIterable {
        case required
        case optional
    }

    public var tls: TLSPolicy = .automatic
    public var tlsData: DataProtectionPolicy = .optional
    /// PEM certificate chain and key; when nil, a self-signed certificate is made once in `<data>/tls/`.
    public var tlsCertificatePath: String? = nil
    public var tlsKeyPath: String? = nil
    /// Port of the implicit-FTPS listener (TLS from the first byte); nil for none.
    public var implicitTLSPort: Int? = nil
    /// Which clients count as local for `TLSPolicy.automatic`: loopback by default. Tests inject their own.
    public var isLocal: @Sendable (SocketAddress) -> Bool = ServerConfiguration.isLoopback
    /// Accept an upload whose TLS data connection ended without close_notify (many clients do that) as complete.
    /// Off means such uploads are discarded as possibly truncated.
    public var acceptUncleanTLSDataShutdown = true

    public static func isLoopback(_ address: SocketAddress) -> Bool {
        guard let ip = address.ipAddress else { return false }
        return ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
    }

    public init() {}

    /// The unsent-bytes limit for a data connection opened while `transfers` run (0: none).
    func unsentLimit(whileRunning transfers: Int) -> Int {
        transfers >= self.dataUnsentLimitTransfers ? self.dataUnsentLimit : 0
    }

    /// The user store inside the data folder.
    public var databasePath: String { self.dataDirectory + "/ferry.sqlite" }
    /// Where homes without an explicit directory live.
    public var homesDirectory: String { self.dataDirectory + "/homes" }
}
