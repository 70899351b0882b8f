import ArgumentParser
import FerryBench
import Foundation

/// `ferry-bench`: a load generator for FTP servers, in the spirit of redis-benchmark and pgbench.
@main
struct FerryBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry-bench",
        abstract: "Measure an FTP server: bulk transfers, many clients, logins, idle memory, small files, listings.",
        discussion: """
            Scenarios: retr, stor, concurrent, burst, login-rate, idle, small-files, listing, retr-tls, stor-tls,
            concurrent-tls (or all). Each prints one row (listing two); --json writes them for machines.
            The home must hold the files of --setup (the layout of ../shared/bench/ftpbench.py --make-home).
            Examples:
              ferry-bench --setup /srv/bench
              ferry-bench --url ftp://bench:benchpass@127.0.0.1:2121 --scenario all --json results.json
            """
    )

    @Option(help: "The server, ftp://USER[:PASSWORD]@HOST:PORT (the password may also come from FERRY_BENCH_PASSWORD).")
    var url: String?

    @Option(help: "Comma-separated scenarios, or all.")
    var scenario: String = "all"

    @Option(help: "The server's name in the output.")
    var label: String = "server"

    @Option(help: "Write the results as JSON to this file (- for standard output).")
    var json: String?

    @Option(help: "Create the benchmark files under this directory and exit.")
    var setup: String?

    @Flag(help: "Small sizes for a smoke run.")
    var quick = false

    @Option(help: "Clients of the concurrent scenarios.")
    var clients: Int?

    @Option(name: .customLong("burst-clients"), help: "Clients of the burst scenario.")
    var burstClients: Int?

    @Option(name: .customLong("login-workers"), help: "Workers of the login-rate scenario.")
    var loginWorkers: Int?

    @Option(name: .customLong("login-seconds"), help: "Duration of the login-rate scenario.")
    var loginSeconds: Double?

    @Option(name: .customLong("idle-sessions"), help: "Sessions the idle scenario holds.")
    var idleSessions: Int?

    @Option(name: .customLong("stor-bytes"), help: "Bytes the stor scenarios upload (e.g. 1073741824).")
    var storBytes: Int64?

    @Option(name: .customLong("server-pid"), help: "The server's process id, for idle (default: found from the port).")
    var serverPID: Int32?

    @Option(help: "Seconds allowed for every connect and reply.")
    var timeout: Int = 30

    func validate() throws {
        if self.setup == nil, self.url == nil { throw ValidationError("give --url (or --setup DIR)") }
        for (flag, value) in [
            ("--clients", self.clients), ("--burst-clients", self.burstClients),
            ("--login-workers", self.loginWorkers), ("--idle-sessions", self.idleSessions),
        ] {
            if let value, value < 1 { throw ValidationError("\(flag) must be at least 1") }
        }
        if let loginSeconds, !(loginSeconds > 0) { throw ValidationError("--login-seconds must be positive") }
        if let storBytes, storBytes < 1 { throw ValidationError("--stor-bytes must be positive") }
        guard self.timeout > 0 else { throw ValidationError("--timeout must be positive") }
        if let url {
            do { _ = try BenchURL(url) } catch { throw ValidationError("\(error)") }
        }
        _ = try self.scenarios()
    }

    func scenarios() throws -> [Scenario] {
        do { return try Scenario.parseList(self.scenario) } catch { throw ValidationError("\(error)") }
    }

    func settings() throws -> BenchSettings {
        var settings = BenchSettings()
        if self.quick { settings.makeQuick() }
        if let url = self.url {
            let target = try BenchURL(url)
            settings.host = target.host
            settings.port = target.port
            settings.user = target.user
            settings.password =
                target.password ?? ProcessInfo.processInfo.environment["FERRY_BENCH_PASSWORD"] ?? settings.password
        }
        settings.label = self.label
        if let clients { settings.clients = clients }
        if let burstClients { settings.burstClients = burstClients }
        if let loginWorkers { settings.loginWorkers = loginWorkers }
        if let loginSeconds { settings.loginDuration = .milliseconds(Int64(loginSeconds * 1000)) }
        if let idleSessions { settings.idleSessions = idleSessions }
        if let storBytes { settings.storBytes = storBytes }
        settings.serverPID = self.serverPID
        settings.timeout = .seconds(Int64(self.timeout))
        return settings
    }

    func run() async throws {
        if let setup {
            try BenchHome.create(at: setup) { print($0) }
            return
        }
        ServerProcess.raiseOpenFileLimit()
        let runner = BenchRunner(settings: try self.settings())
        var results: [ScenarioResult] = []
        for scenario in try self.scenarios() {
            for result in await runner.run(scenario) {
                print(result.row)
                results.append(result)
            }
        }
        if let json {
            let text = try ScenarioResult.json(results)
            if json == "-" {
                print(text)
            } else {
                try (text + "\n").write(toFile: json, atomically: true, encoding: .utf8)
            }
        }
        if results.contains(where: { $0.status == .error }) { throw ExitCode(1) }
    }
}
