import FerryTestSupport
import Testing

/// Connection limits, brute-force bans and hostile clients.
@Suite("abuse defences")
struct AbuseTests {
    @Test("more connections from one address than allowed get 421")
    func connectionLimit() async throws {
        try await withServer(configure: { $0.maximumConnectionsPerAddress = 3 }) { server in
            try await runFtplib("connection_limit", server)
        }
    }

    @Test("more sessions of one user than allowed get 421")
    func sessionLimit() async throws {
        try await withServer(configure: { $0.maximumSessionsPerUser = 2 }) { server in
            try await runFtplib("session_limit", server)
        }
    }

    @Test("failed logins from one address lead to a temporary ban; a success does not clear the count")
    func ban() async throws {
        try await withServer(configure: {
            $0.failuresBeforeBan = 4
            // Long enough that a loaded machine still sees the ban before it ends.
            $0.banDuration = .seconds(6)
            $0.failedLoginDelay = .milliseconds(10)
        }) { server in
            try await runFtplib("ban", server)
        }
    }

    @Test(
        "a one-byte-at-a-time client and a PASV flood cost only their own session",
        arguments: ["slow_client", "pasv_flood"]
    )
    func hostileClients(_ scenario: String) async throws {
        try await withServer { server in try await runFtplib(scenario, server) }
    }
}
