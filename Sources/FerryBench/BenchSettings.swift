import NIOCore

/// Where and how hard to benchmark.
public struct BenchSettings: Sendable {
    /// The server's address.
    public var host = "127.0.0.1"
    /// The server's control port.
    public var port = 2121
    /// The user to log in as.
    public var user = "bench"
    /// That user's password.
    public var password = "benchpass"
    /// The label of this server in the output (e.g. `ferryd`, `vsftpd`).
    public var label = "server"

    /// The file `retr` downloads (relative to the home).
    public var bigFile = "big1g.bin"
    /// How many bytes `stor` uploads.
    public var storBytes: Int64 = 1 << 30
    /// The file each `concurrent` client downloads.
    public var concurrentFile = "f10m.bin"
    /// How many clients `concurrent` runs at once.
    public var clients = 200
    /// How many clients `burst` starts at the same instant.
    public var burstClients = 1000
    /// How many `login-rate` workers.
    public var loginWorkers = 8
    /// How long `login-rate` runs.
    public var loginDuration: Duration = .seconds(10)
    /// How many sessions `idle` holds.
    public var idleSessions = 1000
    /// How many connects `idle` keeps in flight while opening sessions.
    public var idleConnectsInFlight = 50
    /// The directory of small files (`f0000.bin`…).
    public var smallDirectory = "small"
    /// How many small files to download.
    public var smallCount = 500
    /// The directory `listing` lists.
    public var listDirectory = "list10k"
    /// How many times `listing` lists each way (the median is reported).
    public var listingRuns = 3
    /// The limit for every connect and every reply.
    public var timeout: TimeAmount = .seconds(30)
    /// The server's process id, for `idle` (found from the listening socket when nil).
    public var serverPID: Int32?

    public init() {}

    /// Small sizes for a smoke run (seconds, not minutes).
    public mutating func makeQuick() {
        self.bigFile = "f10m.bin"
        self.storBytes = 16 << 20
        self.concurrentFile = "f1m.bin"
        self.clients = 10
        self.burstClients = 50
        self.loginWorkers = 2
        self.loginDuration = .seconds(1)
        self.idleSessions = 50
        self.smallCount = 50
        self.listingRuns = 1
    }
}
