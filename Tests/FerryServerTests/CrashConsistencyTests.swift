import FerryTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The real `ferryd` killed with SIGKILL in the middle of uploads, APPEs, renames and deletes, restarted on the same
/// data folder, and checked against what its clients were told.
///
/// SIGKILL ends the process, not the kernel: whatever ferryd had written is still in the page cache and stays. So
/// these tests check atomicity (a file changes only by a whole, acknowledged or in-flight operation) and accounting
/// (usage equals the disk, temporary uploads neither left nor counted), not durability: losing unsynced data in a
/// power cut would need a virtual machine or a fault-injecting file system.
///
/// Only what a client sees over FTP and what is on disk is checked, never the server's internals. The load and its
/// checks are in `Clients/crash_load.py` (Python's ftplib); this suite starts, kills and restarts the server, walks
/// the home itself and compares usage.
@Suite("crash consistency: ferryd killed with SIGKILL under load", .serialized)
struct CrashConsistencyTests {
    static let user = "crash"
    static let password = "crash-secret"

    @Test("acknowledged STOR, REST+STOR, APPE, RNTO, DELE, MKD survive SIGKILL; no temporary left or counted")
    func killDuringLoad() async throws {
        // A kill finds a commit in progress only now and then, so several rounds with several workers each.
        let rounds = 4
        let harness = try await CrashHarness(quota: "24MiB", files: 500, workers: 4)
        defer { harness.remove() }
        var server = try await harness.start()
        defer { server.kill() }
        var leftBehind = 0
        var counts: [String: Int] = [:]
        for round in 0..<rounds {
            let load = harness.load(round: round, port: server.port)
            try await harness.waitUntilLoadRuns(round: round)
            try await Task.sleep(for: .milliseconds(harness.random.next(in: 300...1500)))
            server.kill()
            let loaded = try await load.value
            #expect(loaded.status == 0 && !loaded.timedOut, "round \(round): \(loaded.stderr) \(harness.seedNote)")
            // Temporaries of the uploads the kill interrupted: evidence that it hit some in flight.
            leftBehind += try DiskUsage(home: harness.home).temporaries.count

            server = try await harness.start()
            let report = try await harness.checkRound(round, port: server.port)
            counts.merge(report.stats, uniquingKeysWith: +)
        }
        // The last restart reconciled usage with the disk; now ordinary operations, all completed, must keep the
        // usage tracked incrementally exactly equal to the disk, without a walk.
        let clean = try await harness.load(round: rounds, port: server.port, operations: 40).value
        #expect(clean.status == 0 && !clean.timedOut, "\(clean.stderr) \(harness.seedNote)")
        try await harness.checkRound(rounds, port: server.port)
        // `ferryd user list` reads the store, which must agree too.
        try await harness.expectUserListMatchesDisk()
        // Not requirements, only signs that the kills landed among operations (printed to help tune the load).
        let summary = counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print(
            "crash consistency: \(leftBehind) temporary uploads left by \(rounds) kills; \(summary) \(harness.seedNote)"
        )
    }

    /// Several sessions APPE framed records to shared files while ferryd is killed: every record acknowledged with
    /// 226 is in its file, whole and once, in each session's order. Before appends were added at the commit under the
    /// user's lock (each APPE copied the file as it was when it began), most acknowledged records were lost and some
    /// were cut in the middle.

    @Test("concurrent APPE onto shared files keeps every acknowledged record across SIGKILL")
    func concurrentAppends() async throws {
        let harness = try await CrashHarness(quota: "64MiB", files: 500, workers: 3)
        defer { harness.remove() }
        var server = try await harness.start()
        defer { server.kill() }
        for round in 0..<3 {
            let load = harness.load(round: round, port: server.port, shared: true)
            try await harness.waitUntilLoadRuns(round: round)
            try await Task.sleep(for: .milliseconds(harness.random.next(in: 300...1500)))
            server.kill()
            let loaded = try await load.value
            #expect(loaded.status == 0 && !loaded.timedOut, "round \(round): \(loaded.stderr) \(harness.seedNote)")

            server = try await harness.start()
            try await harness.checkRound(round, port: server.port, shared: true)
        }
    }
}

/// What the disk holds in a home, walked without following links.
struct DiskUsage {
    var bytes: Int64 = 0
    var regularFiles: Int64 = 0
    var directories: Int64 = 0
    /// Temporary upload files (`.ferry-upload-…`), by path relative to the home.
    var temporaries: [String] = []

    init(home: String) throws {
        guard let paths = FileManager.default.enumerator(atPath: home)?.allObjects as? [String] else { return }
        for path in paths {
            let attributes = try FileManager.default.attributesOfItem(atPath: home + "/" + path)
            let type = attributes[.type] as? FileAttributeType
            if (path as NSString).lastPathComponent.hasPrefix(".ferry-upload-") {
                self.temporaries.append(path)
            } else if type == .typeRegular {
                self.bytes += (attributes[.size] as? NSNumber)?.int64Value ?? 0
                self.regularFiles += 1
            } else if type == .typeDirectory {
                self.directories += 1
            }
        }
    }

    /// What the server counts against the file-count quota, the single place of that rule here: regular files and
    /// directories (a directory counts as one file), the home itself not among `directories`.
    var countedFiles: Int64 { self.regularFiles + self.directories }
}

/// A seeded generator (SplitMix64): the kill delays of a run can be replayed with `FERRY_CRASH_SEED`.
struct SeededRandom {
    private var state: UInt64

    init(seed: UInt64) { self.state = seed }

    mutating func next(in range: ClosedRange<Int>) -> Int {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return range.lowerBound + Int(z % UInt64(range.count))
    }
}

/// A data folder with one user, and the steps of a crash round: start ferryd, run the load, check.
final class CrashHarness: @unchecked Sendable {
    let data: String
    let home: String
    let journal: String
    let seed: UInt64
    /// Concurrent FTP sessions of the load.
    let workers: Int
    /// Only used by the test's own task.
    var random: SeededRandom
    private var starts = 0

    var seedNote: String { "(FERRY_CRASH_SEED=\(self.seed))" }

    init(quota: String, files: Int, workers: Int) async throws {
        self.workers = workers
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ferryd-crash-\(UUID().uuidString)")
        self.data = root.appendingPathComponent("data").path
        self.journal = root.appendingPathComponent("journal").path
        self.home = self.data + "/homes/" + CrashConsistencyTests.user
        try FileManager.default.createDirectory(atPath: self.journal, withIntermediateDirectories: true)
        self.seed =
            ProcessInfo.processInfo.environment["FERRY_CRASH_SEED"].flatMap { UInt64($0) } ?? .random(in: 1...9999)
        self.random = SeededRandom(seed: self.seed)
        let add = try await runProcess(
            FerrydCLITests.ferryd,
            [
                "user", "add", CrashConsistencyTests.user, "--data", self.data, "--password-stdin", "--quota", quota,
                "--files", String(files),
            ],
            stdin: Data((CrashConsistencyTests.password + "\n").utf8)
        )
        try #require(add.status == 0, "\(add.stderr)")
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: (self.data as NSString).deletingLastPathComponent)
    }

    /// Starts ferryd on a free port and returns once it listens (after its start-up reconcile of usage).
    func start() async throws -> FerrydProcess {
        self.starts += 1
        return try await FerrydProcess.start(data: self.data, log: "\(self.journal)/ferryd-\(self.starts).log")
    }

    func arguments(_ command: String, round: Int, port: Int) -> [String] {
        [
            "-u", clientsDirectory + "/crash_load.py", command, "--host", "127.0.0.1", "--port", String(port),
            "--user", CrashConsistencyTests.user, "--password", CrashConsistencyTests.password, "--home", self.home,
            "--journal", self.journal, "--round", String(round), "--seed", String(self.seed),
        ]
    }

    /// Runs the load in the background: until the server dies, or `operations` per worker.
    func load(
        round: Int,
        port: Int,
        operations: Int = 0,
        shared: Bool = false
    ) -> Task<ProcessResult, any Error> {
        var arguments = self.arguments("load", round: round, port: port)
        arguments += ["--workers", String(self.workers), "--ops", String(operations), "--max-seconds", "10"]
        if shared { arguments.append("--shared") }
        return Task { try await runProcess("python3", arguments, timeout: .seconds(40)) }
    }

    /// Waits until every worker of the round has logged in, so the kill falls among operations, not logins.
    func waitUntilLoadRuns(round: Int) async throws {
        let ready = "\(self.journal)/round-\(round)/ready"
        for _ in 0..<400 where !FileManager.default.fileExists(atPath: ready) {
            try await Task.sleep(for: .milliseconds(50))
        }
        try #require(FileManager.default.fileExists(atPath: ready), "the load never started \(self.seedNote)")
    }

    struct Report: Decodable {
        struct Violation: Decodable, CustomStringConvertible {
            var kind: String
            var detail: String
            var description: String { "\(self.kind): \(self.detail)" }
        }
        struct Usage: Decodable {
            var bytes: Int64
            var files: Int64
        }
        var violations: [Violation]
        var quota: Usage?
        var stats: [String: Int]
    }

    /// The checks after a round, with the server up: the journal against the disk and the listings (in Python), no
    /// temporary upload left on disk, and the usage the server reports (SITE QUOTA) equal to the disk.
    @discardableResult
    func checkRound(
        _ round: Int,
        port: Int,
        shared: Bool = false,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Report {
        var arguments = self.arguments("check", round: round, port: port)
        arguments += ["--workers", String(self.workers)] + (shared ? ["--shared"] : [])
        let result = try await runProcess("python3", arguments, timeout: .seconds(30))
        let report = try #require(
            try? JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8)),
            "round \(round) check failed: \(result.stdout) \(result.stderr) \(self.seedNote)",
            sourceLocation: sourceLocation
        )
        #expect(
            report.violations.isEmpty,
            "round \(round): \(report.violations.map(\.description).joined(separator: "\n")) \(self.seedNote)",
            sourceLocation: sourceLocation
        )
        let disk = try DiskUsage(home: self.home)
        #expect(
            disk.temporaries.isEmpty,
            "round \(round): temporary uploads left after the restart: \(disk.temporaries) \(self.seedNote)",
            sourceLocation: sourceLocation
        )
        let reported = report.quota.map { "\($0.bytes) bytes, \($0.files) files" } ?? "nothing"
        #expect(
            report.quota?.bytes == disk.bytes && report.quota?.files == disk.countedFiles,
            """
            round \(round): SITE QUOTA reports \(reported), \
            the disk holds \(disk.bytes) bytes in \(disk.regularFiles) files and \(disk.directories) folders \
            \(self.seedNote)
            """,
            sourceLocation: sourceLocation
        )
        return report
    }

    /// `ferryd user list` (the store, read by a second process while the server runs) shows the disk's usage.
    func expectUserListMatchesDisk(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let list = try await runProcess(FerrydCLITests.ferryd, ["user", "list", "--data", self.data])
        let row = list.stdout.split(separator: "\n").first { $0.hasPrefix(CrashConsistencyTests.user + " ") } ?? ""
        let disk = try DiskUsage(home: self.home)
        // The row shows bytes as "1.2 KiB (1234)" and the file count as a column of its own.
        #expect(
            row.contains("(\(disk.bytes))") && row.contains(" \(disk.countedFiles) "),
            "user list: \(list.stdout)\(list.stderr); disk: \(disk.bytes) bytes, \(disk.countedFiles) files",
            sourceLocation: sourceLocation
        )
    }
}

/// The real `ferryd serve`, a separate process the test kills with SIGKILL.
///
/// Spawned and reaped here rather than with Foundation's `Process`: on Linux, `Process` learns that a child ended from
/// a socket the child inherits, and once that socket closes it blocks in `waitpid` for that child, which holds up
/// every other `Process` in the test run. Closing inherited descriptors (which the server must, see `runProcess`)
/// closes that socket at once, so a long-lived server started that way would stall all other clients.
final class FerrydProcess {
    let pid: pid_t
    private(set) var port = 0
    private var reaped = false

    private init(pid: pid_t) { self.pid = pid }

    static func start(data: String, log: String) async throws -> FerrydProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // Python closes inherited descriptors (other suites run servers in this process; ferryd must not keep their
        // sockets open), then `exec` keeps the process id, so the SIGKILL hits ferryd itself.
        let arguments = [
            "/usr/bin/env", "python3", "-c",
            "import os, sys; os.closerange(3, 1 << 16); os.execvp(sys.argv[1], sys.argv[1:])",
            FerrydCLITests.ferryd, "serve", "--data", data, "--host", "127.0.0.1", "--port", "0", "--tls", "off",
        ]
        var argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, "/usr/bin/env", &actions, nil, &argv, environ)
        guard spawned == 0 else { throw CrashTestError("cannot start ferryd: \(String(cString: strerror(spawned)))") }
        let server = FerrydProcess(pid: pid)
        // The port ferryd picked is in its "listening" log line, written after the start-up reconcile.
        for _ in 0..<600 {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.contains("listening") }),
                let match = line.firstMatch(of: /127\.0\.0\.1:(\d+)/), let port = Int(match.1)
            {
                server.port = port
                return server
            }
            guard server.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        server.kill()
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        throw CrashTestError("ferryd did not start listening: \(text)")
    }

    private var isRunning: Bool {
        var status: Int32 = 0
        if !self.reaped && waitpid(self.pid, &status, WNOHANG) == self.pid { self.reaped = true }
        return !self.reaped
    }

    /// SIGKILL, then reaps the process: once this returns, the kernel has closed its sockets and files.
    func kill() {
        guard !self.reaped else { return }
        Glibc.kill(self.pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(self.pid, &status, 0) < 0 && errno == EINTR {}
        self.reaped = true
    }
}

struct CrashTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
