import FerryServer
import FerryTestSupport
import Testing

/// Python's ftplib, a real client every Python install has, driven against the real server on loopback.
/// Each scenario lives in `Clients/ftplib_scenarios.py` and checks replies and the files on disk.
@Suite("ftplib against ferryd")
struct FtplibTests {
    @Test("login: good, bad and unknown user answer alike", arguments: ["login", "before_login", "too_many_failures"])
    func login(_ scenario: String) async throws {
        try await withServer { server in try await runFtplib(scenario, server) }
    }

    @Test(
        "commands",
        arguments: ["info_commands", "navigation", "listings", "utf8_and_spaces", "ascii_mode", "hostile_input"]
    )
    func commands(_ scenario: String) async throws {
        try await withServer { server in try await runFtplib(scenario, server) }
    }

    @Test("a listing of many batches (the server streams it) is complete, sorted and the same over LIST, NLST, MLSD")
    func streamedListing() async throws {
        try await withServer(configure: { $0.listingBatchSize = 97 }) { server in
            try await runFtplib("streamed_listing", server)
        }
    }

    @Test(
        "transfers",
        arguments: [
            "integrity", "resume", "interrupted_upload", "abort", "active_mode", "passive_modes", "passive_port_reuse",
        ]
    )
    func transfers(_ scenario: String) async throws {
        try await withServer(configure: { configuration in
            // passive_port_reuse checks that a retired port refuses connections. With kernel-chosen ports another
            // test's listener could take the freed port at once; a range below the kernel's ephemeral ports
            // (32768-60999), used by no other test, keeps the check about this server.
            if scenario == "passive_port_reuse" { configuration.passivePorts = 23000...23999 }
        }) { server in try await runFtplib(scenario, server) }
    }

    @Test("a 256 MiB file survives upload and download byte for byte")
    func largeFile() async throws {
        try await withServer { server in try await runFtplib("large_file", server, timeout: .seconds(400)) }
    }

    @Test("the jail holds: no path or link leads out of the home")
    func jail() async throws {
        try await withServer { server in try await runFtplib("jail", server) }
    }

    @Test("a PASV port only accepts the control connection's address")
    func passiveOtherHost() async throws {
        try await withServer { server in try await runFtplib("passive_other_host", server) }
    }

    @Test("a PASV nobody connects to times out from the command on, and its port is freed after the linger time")
    func pasvNeverConnect() async throws {
        try await withServer(configure: {
            $0.dataConnectionTimeout = .seconds(1)
            $0.passivePortLinger = .milliseconds(500)
        }) { server in
            try await runFtplib("pasv_never_connect", server)
            try await runFtplib("command_after_connect", server)
        }
    }

    @Test("an idle session is closed with 421")
    func idleTimeout() async throws {
        // 3 s: long enough that a loaded machine still logs in before it, short enough to wait for.
        try await withServer(configure: { $0.idleTimeout = .seconds(3) }) { server in
            try await runFtplib("idle_timeout", server)
        }
    }

    @Test("a client that never logs in is closed with 421, even while it sends NOOPs")
    func loginTimeout() async throws {
        try await withServer(configure: { $0.loginTimeout = .seconds(1) }) { server in
            try await runFtplib("login_timeout", server)
        }
    }

    @Test("20 clients of three users upload and download at once")
    func concurrent() async throws {
        try await withServer { server in try await runFtplib("concurrent", server) }
    }

    @Test("dual stack: on ::, IPv4 clients get PASV and PORT with their IPv4 address, IPv6 clients EPSV")
    func dualStack() async throws {
        try await withServer(host: "::") { server in try await runFtplib("dual_stack", server) }
    }

    @Test("IPv6: EPSV and EPRT on ::1")
    func ipv6() async throws {
        try await withServer(host: "::1") { server in try await runFtplib("ipv6", server) }
    }
}
