import FerryBench
import FerryTestSupport
import Foundation
import NIOCore
import NIOPosix
import Testing

@Suite("ferry-bench building blocks")
struct BenchBuildingBlockTests {
    @Test("scenario lists: all, names, duplicates, unknown names")
    func scenarioLists() throws {
        #expect(try Scenario.parseList("all") == Scenario.allCases)
        #expect(try Scenario.parseList("retr, stor,retr") == [.retr, .stor])
        #expect(try Scenario.parseList("login-rate,small-files,retr-tls") == [.loginRate, .smallFiles, .retrTLS])
        #expect(throws: BenchError.self) { try Scenario.parseList("retr,bogus") }
        #expect(throws: BenchError.self) { try Scenario.parseList(" , ") }
        do {
            _ = try Scenario.parseList("bogus")
        } catch {
            #expect("\(error)".contains("unknown scenario 'bogus'"))
            #expect("\(error)".contains("login-rate"))
        }
        #expect(Scenario.allCases.filter(\.usesTLS) == [.retrTLS, .storTLS, .concurrentTLS])
    }

    @Test("--url: user, password, host, port, escapes, IPv6; clear errors otherwise")
    func urls() throws {
        let url = try BenchURL("ftp://bench:p%40ss@127.0.0.1:2121")
        #expect(url == BenchURL(user: "bench", password: "p@ss", host: "127.0.0.1", port: 2121))
        let v6 = try BenchURL("ftp://bench@[::1]:2121")
        #expect(v6.host == "::1" && v6.password == nil && v6.port == 2121)
        #expect(try BenchURL("ftp://u@host").port == 21)
        for bad in ["http://u@h:1", "ftp://h:21", "not a url", "ftp://u@h:0"] {
            #expect(throws: BenchError.self, "\(bad)") { try BenchURL(bad) }
        }
    }

    @Test("latency percentiles come from the histogram")
    func latencies() {
        var latencies = Latencies()
        #expect(latencies.count == 0 && latencies.seconds(atPercentile: 99) == 0)
        for milliseconds in 1...100 { latencies.record(.milliseconds(milliseconds)) }
        #expect(latencies.count == 100)
        #expect(abs(latencies.seconds(atPercentile: 50) - 0.050) < 0.001)
        #expect(abs(latencies.seconds(atPercentile: 99) - 0.099) < 0.001)
        #expect(abs(latencies.maximum - 0.100) < 0.001)
        var other = Latencies()
        other.record(.seconds(2))
        latencies.merge(other)
        #expect(latencies.count == 101 && abs(latencies.maximum - 2) < 0.01)
    }

    @Test("the server's process and memory are found through /proc")
    func processMemory() async throws {
        // Blocking /proc reads: on the NIO pool, never on Swift's cooperative threads (the servers of other tests
        // accept connections there).
        let pool = NIOThreadPool.singleton
        try await withServer { server in
            let port = server.port
            #expect(try await pool.runIfActive { ServerProcess.listening(onPort: port) } == getpid())
            let (tree, memory) = try await pool.runIfActive {
                let tree = ServerProcess.tree(of: getpid())
                return (tree, ServerProcess.memory(of: tree))
            }
            #expect(tree.first == getpid())
            #expect(memory.pss > 0 && memory.rss >= memory.pss / 2)
        }
        #expect(try await pool.runIfActive { ServerProcess.listening(onPort: 1) } == nil)
    }
}

@Suite("ferry-bench against a real server")
struct BenchRunnerTests {
    @Test("every scenario runs, on small sizes, and measures what it says")
    func allScenarios() async throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-bench-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: home) }
        // 10,000 files: written on the NIO pool, not on the cooperative threads other tests' servers need.
        try await NIOThreadPool.singleton.runIfActive { try BenchHome.create(at: home, bigBytes: 8 << 20) }
        try await withServer(users: [("bench", "benchpass")], homes: ["bench": home]) { configuration in
            configuration.maximumSessionsPerUser = 500
            configuration.maximumConnectionsPerAddress = 500
        } _: { server in
            var settings = BenchSettings()
            settings.makeQuick()
            settings.port = server.port
            settings.label = "test"
            settings.bigFile = "big1g.bin"
            settings.storBytes = (3 << 20) + 5
            settings.clients = 5
            settings.burstClients = 20
            settings.idleSessions = 20
            settings.loginDuration = .milliseconds(300)
            settings.smallCount = 20
            settings.timeout = .seconds(20)
            let runner = BenchRunner(settings: settings)
            var results: [String: ScenarioResult] = [:]
            for scenario in Scenario.allCases {
                for result in await runner.run(scenario) {
                    #expect(result.status == .ok, "\(result.row)")
                    #expect(result.label == "test")
                    results[result.scenario] = result
                }
            }
            func metric(_ scenario: String, _ name: String) -> Double? { results[scenario]?.metrics[name] }
            for name in ["retr", "retr-tls"] {
                #expect(metric(name, "bytes") == Double(8 << 20))
                #expect((metric(name, "mb_per_s") ?? 0) > 0)
            }
            for name in ["stor", "stor-tls"] {
                #expect(metric(name, "bytes") == Double((3 << 20) + 5))
            }
            for name in ["concurrent", "concurrent-tls"] {
                #expect(metric(name, "clients") == 5 && metric(name, "failed") == 0)
                #expect((metric(name, "p99_s") ?? 0) >= (metric(name, "p50_s") ?? 1))
            }
            #expect(metric("burst", "logged_in") == 20 && metric("burst", "refused") == 0)
            #expect((metric("login-rate", "logins") ?? 0) > 0 && metric("login-rate", "failed") == 0)
            #expect(metric("idle", "held") == 20 && metric("idle", "failed") == 0)
            #expect(metric("small-files", "files") == 20 && metric("small-files", "bytes") == 20 * 4096)
            #expect(metric("listing-list", "lines") == 10_000)
            // MLSD also lists the directory itself (type=cdir).
            #expect(metric("listing-mlsd", "lines") == 10_001)
            // The uploads were removed again.
            let left = try FileManager.default.contentsOfDirectory(atPath: home).filter { $0.hasPrefix("ferry-bench-") }
            #expect(left.isEmpty)
            #expect(try ScenarioResult.json(Array(results.values)).contains("\"headline\""))
        }
    }

    @Test("a wrong password or a missing file is an error row, not a crash or a figure")
    func errors() async throws {
        try await withServer(users: [("bench", "benchpass")]) { server in
            var settings = BenchSettings()
            settings.port = server.port
            settings.password = "wrong"
            settings.timeout = .seconds(10)
            let login = await BenchRunner(settings: settings).run(.retr)
            #expect(login.count == 1 && login[0].status == .error)
            #expect(login[0].summary.contains("login"), "\(login[0].summary)")
            settings.password = "benchpass"
            let missing = await BenchRunner(settings: settings).run(.retr)
            #expect(missing[0].status == .error && missing[0].summary.contains("550"), "\(missing[0].summary)")
        }
    }
}
