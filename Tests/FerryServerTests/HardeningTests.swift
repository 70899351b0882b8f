import FerryProtocol
import FerryTestSupport
import Testing

@testable import FerryServer

/// Regression tests of the hardening issue: each drives the real server with a real client the way the defect was
/// found (`Clients/hardening_scenarios.py`), and each failed before its fix.
@Suite("hardening regressions")
struct HardeningTests {
    func run(_ scenario: String, _ server: TestServer, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await runFtplib(scenario, server, script: "hardening_scenarios.py", sourceLocation: sourceLocation)
    }

    @Test("a rename onto the same file, in any spelling or by a hard link, leaves the quota usage alone")
    func selfRename() async throws {
        try await withServer(quotas: ["alice": .init(bytes: 1 << 20)]) { try await self.run("self_rename_quota", $0) }
    }

    @Test("lines pipelined after AUTH TLS in clear are discarded, not run over TLS")
    func starttlsInjection() async throws {
        try await withServer(configure: { $0.tls = .required }) { try await self.run("starttls_injection", $0) }
    }

    @Test("Python's ftplib.abort() (ABOR as urgent data) is answered at once and the session stays in step")
    func ftplibAbort() async throws {
        try await withServer { try await self.run("ftplib_abort", $0) }
    }

    @Test("concurrent APPEs of one file: every acknowledged append is in the file")
    func concurrentAppends() async throws {
        try await withServer { try await self.run("concurrent_appends", $0) }
    }

    @Test("an APPE that commits after a STOR appends to the STOR's file")
    func appendRacesStore() async throws {
        try await withServer { try await self.run("append_races_store", $0) }
    }

    @Test("REST at the end of a file appends; REST below the end keeps the prefix")
    func resumeAtEnd() async throws {
        try await withServer { try await self.run("resume_at_end_is_append", $0) }
    }

    @Test("directories count against the file quota")
    func mkdCountsFiles() async throws {
        try await withServer(quotas: ["alice": .init(bytes: nil, files: 3)]) {
            try await self.run("mkd_counts_files", $0)
        }
    }

    @Test("temporary upload names are recognised by their bytes")
    func temporaryNames() async throws {
        try await withServer { try await self.run("temporary_names_by_bytes", $0) }
    }

    @Test("sessions of a user whose password was changed or who was removed end at their next command")
    func revokedSessions() async throws {
        try await withServer(configure: { $0.accountCheckInterval = .milliseconds(200) }) { server in
            try await runFtplib(
                "revoked_sessions",
                server,
                extra: ["ferryd": FerrydCLITests.ferryd],
                script: "hardening_scenarios.py"
            )
        }
    }

    @Test("an upload shorter than ALLO, or a TLS upload without close_notify over a file, is not stored")
    func earlyEnd() async throws {
        try await withServer { try await self.run("allo_early_end", $0) }
    }

    @Test("STAT path streams, names cannot end its reply, and listings past the memory limit get 550")
    func listingBounds() async throws {
        try await withServer(configure: { $0.maximumListingNameBytes = 20_000 }) {
            try await self.run("listing_bounds", $0)
        }
    }

    @Test("ferryd user rescan while an upload runs keeps its temporary file and removes only stale ones")
    func rescanDuringUpload() async throws {
        try await withServer { server in
            try await runFtplib(
                "rescan_during_upload",
                server,
                extra: ["ferryd": FerrydCLITests.ferryd],
                script: "hardening_scenarios.py"
            )
        }
    }

    @Test("concurrent STORs over one file share its size as credit once")
    func replaceCreditOnce() async throws {
        try await withServer(quotas: ["alice": .init(bytes: 1 << 20)]) { try await self.run("replace_credit_once", $0) }
    }

    @Test("on a dual-stack listener an IPv4 client's failures ban it")
    func dualStackBan() async throws {
        try await withServer(
            host: "::",
            configure: {
                $0.failuresBeforeBan = 3
                $0.failedLoginDelay = .milliseconds(10)
            }
        ) { try await self.run("dual_stack_ban", $0) }
    }
}
