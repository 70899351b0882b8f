import FerryClient
import FerryProtocol
import Foundation
import NIOCore
import NIOPosix

/// Runs scenarios against one server with FerryClient (SwiftNIO), so the load generator is not the bottleneck.
///
/// Every connect and reply has ``BenchSettings/timeout``; loops are bounded in count or time, so a scenario always
/// ends. A scenario that fails reports `error` with the reason instead of a figure.
public struct BenchRunner: Sendable {
    public var settings: BenchSettings

    public init(settings: BenchSettings) {
        self.settings = settings
    }

    /// Runs one scenario; `listing` gives two rows (LIST and MLSD), the others one.
    public func run(_ scenario: Scenario) async -> [ScenarioResult] {
        let started = ContinuousClock.now
        do {
            switch scenario {
            case .retr, .retrTLS: return [try await self.retr(scenario, started: started)]
            case .stor, .storTLS: return [try await self.stor(scenario, started: started)]
            case .concurrent, .concurrentTLS: return [try await self.concurrent(scenario, started: started)]
            case .burst: return [try await self.burst(started: started)]
            case .loginRate: return [try await self.loginRate(started: started)]
            case .idle: return [try await self.idle(started: started)]
            case .smallFiles: return [try await self.smallFiles(started: started)]
            case .listing: return try await self.listing(started: started)
            }
        } catch {
            return [self.result(scenario.rawValue, .error, summary: "\(error)", started: started)]
        }
    }

    // MARK: - Sessions

    private func endpoint(tls: Bool) -> FTPEndpoint {
        FTPEndpoint(host: self.settings.host, port: self.settings.port, security: tls ? .explicit : .none)
    }

    private var configuration: FTPClientConfiguration {
        var configuration = FTPClientConfiguration()
        // A benchmark of our own servers on loopback: encryption without certificate checks (self-signed peers).
        configuration.trust = .insecure
        configuration.timeout = self.settings.timeout
        configuration.protectData = true
        configuration.asksFeatures = false
        return configuration
    }

    /// Connects, logs in (TYPE I), runs `body`, quits.
    private func withSession<T>(tls: Bool = false, _ body: (FTPClient) async throws -> T) async throws -> T {
        try await FTPClient.withConnection(to: self.endpoint(tls: tls), configuration: self.configuration) { client in
            try await withTaskExecutorPreference(client.executor) {
                try await client.login(user: self.settings.user, password: self.settings.password)
                return try await body(client)
            }
        }
    }

    // MARK: - Bulk transfers

    private func retr(_ scenario: Scenario, started: ContinuousClock.Instant) async throws -> ScenarioResult {
        let file = self.settings.bigFile
        let (bytes, elapsed) = try await self.withSession(tls: scenario.usesTLS) { client in
            let clock = ContinuousClock.now
            let bytes = try await client.receiveData("RETR \(file)")
            return (bytes, ContinuousClock.now - clock)
        }
        return self.throughput(scenario, bytes: bytes, elapsed: elapsed, what: "RETR \(file)", started: started)
    }

    private func stor(_ scenario: Scenario, started: ContinuousClock.Instant) async throws -> ScenarioResult {
        var block = ByteBuffer(repeating: 0, count: 1 << 20)
        var generator = SplitMix64(seed: UInt64.random(in: .min ... .max))
        block.withUnsafeMutableReadableBytes { raw in
            for index in stride(from: 0, to: raw.count, by: 8) {
                raw.storeBytes(of: generator.next(), toByteOffset: index, as: UInt64.self)
            }
        }
        let source = RepeatedBuffer(buffer: block, total: self.settings.storBytes)
        let name = "ferry-bench-\(getpid())-\(UInt32.random(in: 0 ... .max)).bin"
        let (bytes, elapsed) = try await self.withSession(tls: scenario.usesTLS) { client in
            let clock = ContinuousClock.now
            let bytes: Int64
            do {
                bytes = try await client.sendData("STOR \(name)", from: source)
            } catch {
                _ = try? await client.command("DELE \(name)")
                throw error
            }
            let elapsed = ContinuousClock.now - clock
            _ = try await client.command("DELE \(name)")
            return (bytes, elapsed)
        }
        return self.throughput(scenario, bytes: bytes, elapsed: elapsed, what: "STOR", started: started)
    }

    private func throughput(
        _ scenario: Scenario,
        bytes: Int64,
        elapsed: Duration,
        what: String,
        started: ContinuousClock.Instant
    ) -> ScenarioResult {
        let seconds = elapsed.inSeconds
        let rate = Double(bytes) / 1e6 / max(seconds, 1e-9)
        return self.result(
            scenario.rawValue,
            metrics: ["mb_per_s": rate, "bytes": Double(bytes), "transfer_s": seconds],
            headline: .init(metric: "mb_per_s", higherIsBetter: true),
            summary: "\(Self.format(rate, 0)) MB/s (\(what), \(Self.bytes(bytes)) in \(Self.format(seconds, 2)) s)",
            started: started
        )
    }

    // MARK: - Many clients

    private enum Outcome: Sendable {
        case done(bytes: Int64, elapsed: Duration)
        case failed(String, elapsed: Duration)
    }

    private func concurrent(_ scenario: Scenario, started: ContinuousClock.Instant) async throws -> ScenarioResult {
        let file = self.settings.concurrentFile
        let count = self.settings.clients
        let clock = ContinuousClock.now
        let outcomes = await withTaskGroup(of: Outcome.self) { group in
            for _ in 0..<count {
                group.addTask {
                    let start = ContinuousClock.now
                    do {
                        let bytes = try await self.withSession(tls: scenario.usesTLS) { client in
                            try await client.receiveData("RETR \(file)")
                        }
                        return .done(bytes: bytes, elapsed: ContinuousClock.now - start)
                    } catch {
                        return .failed("\(error)", elapsed: ContinuousClock.now - start)
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let wall = (ContinuousClock.now - clock).inSeconds
        var latencies = Latencies()
        var bytes: Int64 = 0
        var failures: [String] = []
        for outcome in outcomes {
            switch outcome {
            case .done(let received, let elapsed):
                bytes += received
                latencies.record(elapsed)
            case .failed(let reason, _):
                failures.append(reason)
            }
        }
        let rate = Double(bytes) / 1e6 / max(wall, 1e-9)
        let p50 = latencies.seconds(atPercentile: 50)
        let p99 = latencies.seconds(atPercentile: 99)
        var summary =
            "\(Self.format(rate, 0)) MB/s aggregate, \(count) clients × \(file): per client p50 \(Self.format(p50, 2)) s, "
            + "p99 \(Self.format(p99, 2)) s, max \(Self.format(latencies.maximum, 2)) s, failed \(failures.count)"
        if let first = failures.first { summary += " (first: \(first))" }
        return self.result(
            scenario.rawValue,
            metrics: [
                "mb_per_s": rate, "clients": Double(count), "failed": Double(failures.count), "p50_s": p50,
                "p99_s": p99, "max_s": latencies.maximum, "wall_s": wall,
            ],
            headline: .init(metric: "mb_per_s", higherIsBetter: true),
            summary: summary,
            started: started
        )
    }

    /// Opens `count` logged-in sessions (at most `inFlight` connects at a time, nil: all at once) and holds them
    /// until all are in or failed; then calls `whileHeld` and closes them.
    private func holdSessions(
        count: Int,
        inFlight: Int?,
        whileHeld: @Sendable () async -> Void
    ) async -> (outcomes: [Outcome], allIn: Duration) {
        let gate = Gate()
        let arrived = Tally()
        let limiter = inFlight.map { Limiter($0) }
        let clock = ContinuousClock.now
        let timeout = Double(self.settings.timeout.nanoseconds) / 1e9
        return await withTaskGroup(of: Outcome.self) { group in
            for _ in 0..<count {
                group.addTask {
                    await limiter?.acquire()
                    let start = ContinuousClock.now
                    var released = false
                    do {
                        let elapsed = try await self.withSession { _ in
                            let elapsed = ContinuousClock.now - start
                            await limiter?.release()
                            released = true
                            await arrived.increment()
                            await gate.wait()
                            return elapsed
                        }
                        return .done(bytes: 0, elapsed: elapsed)
                    } catch {
                        if !released { await limiter?.release() }
                        await arrived.increment()
                        return .failed("\(error)", elapsed: ContinuousClock.now - start)
                    }
                }
            }
            // Everyone in (or failed), bounded: each client's own timeouts end it well before this.
            let deadline = clock + .seconds(Int64(timeout * 4) + 10) + .seconds(count / 100)
            while await arrived.value < count, ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(5))
            }
            let allIn = ContinuousClock.now - clock
            await whileHeld()
            await gate.open()
            let outcomes = await group.reduce(into: [Outcome]()) { $0.append($1) }
            return (outcomes, allIn)
        }
    }

    /// Splits failures into refused (an answer came: reset, 421, 530) and timed out (no answer within the timeout).
    private func classify(_ outcomes: [Outcome]) -> (latencies: Latencies, refused: [String], timedOut: [String]) {
        let timeout = Double(self.settings.timeout.nanoseconds) / 1e9
        var latencies = Latencies()
        var refused: [String] = []
        var timedOut: [String] = []
        for outcome in outcomes {
            switch outcome {
            case .done(_, let elapsed): latencies.record(elapsed)
            case .failed(let reason, let elapsed):
                if elapsed.inSeconds >= timeout * 0.95 { timedOut.append(reason) } else { refused.append(reason) }
            }
        }
        return (latencies, refused, timedOut)
    }

    private func burst(started: ContinuousClock.Instant) async throws -> ScenarioResult {
        let count = self.settings.burstClients
        let (outcomes, allIn) = await self.holdSessions(count: count, inFlight: nil) {}
        let (latencies, refused, timedOut) = self.classify(outcomes)
        var summary =
            "\(latencies.count)/\(count) logged in, all in \(Self.format(allIn.inSeconds, 2)) s, "
            + "refused \(refused.count), timed out \(timedOut.count); login p50 "
            + "\(Self.format(latencies.seconds(atPercentile: 50), 3)) s, p99 "
            + "\(Self.format(latencies.seconds(atPercentile: 99), 3)) s"
        if let first = refused.first ?? timedOut.first { summary += " (first failure: \(first))" }
        return self.result(
            Scenario.burst.rawValue,
            metrics: [
                "clients": Double(count), "logged_in": Double(latencies.count), "refused": Double(refused.count),
                "timed_out": Double(timedOut.count), "all_in_s": allIn.inSeconds,
                "p50_s": latencies.seconds(atPercentile: 50), "p99_s": latencies.seconds(atPercentile: 99),
                "max_s": latencies.maximum,
            ],
            headline: .init(metric: "logged_in", higherIsBetter: true),
            summary: summary,
            started: started
        )
    }

    private func idle(started: ContinuousClock.Instant) async throws -> ScenarioResult {
        let port = self.settings.port
        let configuredPID = self.settings.serverPID
        let found = try await NIOThreadPool.singleton.runIfActive {
            configuredPID ?? ServerProcess.listening(onPort: port)
        }
        guard let pid = found else {
            return self.result(
                Scenario.idle.rawValue,
                .unsupported,
                summary: "cannot find the process listening on port \(port) (give --server-pid, run as its user)",
                started: started
            )
        }
        let count = self.settings.idleSessions
        let before = try await Self.memory(of: pid)
        let during = MemoryBox()
        let (outcomes, allIn) = await self.holdSessions(count: count, inFlight: self.settings.idleConnectsInFlight) {
            // Let the server settle (buffers released, forks done), then read its memory.
            try? await Task.sleep(for: .seconds(2))
            if let reading = try? await Self.memory(of: pid) { await during.set(reading) }
        }
        let (latencies, refused, timedOut) = self.classify(outcomes)
        let held = latencies.count
        guard held > 0 else {
            let first = (refused + timedOut).first ?? "?"
            return self.result(
                Scenario.idle.rawValue,
                .error,
                summary:
                    "no session could be opened (refused \(refused.count), timed out \(timedOut.count); first: \(first))",
                started: started
            )
        }
        let after = await during.value ?? before
        let pss = Double(after.pss - before.pss) / Double(max(held, 1))
        let rss = Double(after.rss - before.rss) / Double(max(held, 1))
        var summary =
            "\(Self.format(pss, 1)) KiB/session PSS (RSS \(Self.format(rss, 1))), \(held)/\(count) sessions held "
            + "(opened in \(Self.format(allIn.inSeconds, 1)) s), server tree \(before.pss) → \(after.pss) KiB PSS"
        if !refused.isEmpty || !timedOut.isEmpty {
            summary += ", refused \(refused.count), timed out \(timedOut.count) (first: \((refused + timedOut)[0]))"
        }
        return self.result(
            Scenario.idle.rawValue,
            metrics: [
                "sessions": Double(count), "held": Double(held), "failed": Double(refused.count + timedOut.count),
                "pss_kib_per_session": pss, "rss_kib_per_session": rss, "pss_before_kib": Double(before.pss),
                "pss_after_kib": Double(after.pss),
            ],
            headline: .init(metric: "pss_kib_per_session", higherIsBetter: false),
            summary: summary,
            started: started
        )
    }

    /// The PSS and RSS of `pid`'s process tree, read on the NIO thread pool (it reads many /proc files).
    private static func memory(of pid: Int32) async throws -> (pss: Int, rss: Int) {
        try await NIOThreadPool.singleton.runIfActive { ServerProcess.memory(of: ServerProcess.tree(of: pid)) }
    }

    private func loginRate(started: ContinuousClock.Instant) async throws -> ScenarioResult {
        let user = self.settings.user
        let password = self.settings.password
        let end = ContinuousClock.now + self.settings.loginDuration
        let clock = ContinuousClock.now
        let perWorker = await withTaskGroup(of: (Latencies, [String]).self) { group in
            for _ in 0..<self.settings.loginWorkers {
                group.addTask {
                    var latencies = Latencies()
                    var failures: [String] = []
                    // At least one cycle each, so a loaded machine still measures something.
                    repeat {
                        let start = ContinuousClock.now
                        do {
                            // Connect, USER, PASS, QUIT: nothing else, so the login itself is measured.
                            try await FTPClient.withConnection(
                                to: self.endpoint(tls: false),
                                configuration: self.configuration
                            ) { client in
                                _ = try await client.command("USER \(user)")
                                let reply = try await client.command("PASS \(password)")
                                guard reply.code.rawValue == 230 else { throw BenchError("PASS: \(reply)") }
                            }
                            latencies.record(ContinuousClock.now - start)
                        } catch {
                            failures.append("\(error)")
                            // A refusing server must not turn this into a busy loop.
                            try? await Task.sleep(for: .milliseconds(10))
                        }
                    } while ContinuousClock.now < end
                    return (latencies, failures)
                }
            }
            return await group.reduce(into: [(Latencies, [String])]()) { $0.append($1) }
        }
        let wall = (ContinuousClock.now - clock).inSeconds
        var latencies = Latencies()
        var failures: [String] = []
        for (worker, failed) in perWorker {
            latencies.merge(worker)
            failures += failed
        }
        let rate = Double(latencies.count) / max(wall, 1e-9)
        var summary =
            "\(Self.format(rate, 0)) logins/s (\(self.settings.loginWorkers) workers, \(Self.format(wall, 1)) s, "
            + "\(latencies.count) logins), cycle p50 \(Self.format(latencies.seconds(atPercentile: 50) * 1000, 1)) ms, "
            + "p99 \(Self.format(latencies.seconds(atPercentile: 99) * 1000, 1)) ms, failed \(failures.count)"
        if let first = failures.first { summary += " (first: \(first))" }
        return self.result(
            Scenario.loginRate.rawValue,
            metrics: [
                "logins_per_s": rate, "logins": Double(latencies.count), "failed": Double(failures.count),
                "p50_ms": latencies.seconds(atPercentile: 50) * 1000,
                "p99_ms": latencies.seconds(atPercentile: 99) * 1000,
            ],
            headline: .init(metric: "logins_per_s", higherIsBetter: true),
            summary: summary,
            started: started
        )
    }

    // MARK: - One session

    private func smallFiles(started: ContinuousClock.Instant) async throws -> ScenarioResult {
        let directory = self.settings.smallDirectory
        let count = self.settings.smallCount
        let (bytes, elapsed) = try await self.withSession { client in
            let clock = ContinuousClock.now
            var bytes: Int64 = 0
            for index in 0..<count {
                bytes += try await client.receiveData("RETR \(directory)/f\(BenchHome.padded(index, 4)).bin")
            }
            return (bytes, ContinuousClock.now - clock)
        }
        let rate = Double(count) / max(elapsed.inSeconds, 1e-9)
        return self.result(
            Scenario.smallFiles.rawValue,
            metrics: ["files_per_s": rate, "files": Double(count), "bytes": Double(bytes)],
            headline: .init(metric: "files_per_s", higherIsBetter: true),
            summary: "\(Self.format(rate, 0)) files/s (\(count) RETR in one session, \(Self.bytes(bytes)))",
            started: started
        )
    }

    private func listing(started: ContinuousClock.Instant) async throws -> [ScenarioResult] {
        let directory = self.settings.listDirectory
        let runs = max(1, self.settings.listingRuns)
        return try await self.withSession { client in
            var results: [ScenarioResult] = []
            for verb in ["LIST", "MLSD"] {
                let verbStarted = ContinuousClock.now
                var times: [Double] = []
                var lines = 0
                do {
                    for _ in 0..<runs {
                        var newlines = 0
                        let clock = ContinuousClock.now
                        try await client.receiveData("\(verb) \(directory)") { chunk in
                            newlines += chunk.readableBytesView.lazy.filter { $0 == UInt8(ascii: "\n") }.count
                        }
                        times.append((ContinuousClock.now - clock).inSeconds * 1000)
                        lines = newlines
                    }
                } catch let error as FTPClientError where [500, 501, 502, 504].contains(error.code ?? 0) {
                    results.append(
                        self.result(
                            "listing-\(verb.lowercased())",
                            .unsupported,
                            summary: "\(verb) not supported (\(error))",
                            started: verbStarted
                        )
                    )
                    continue
                }
                let median = times.sorted()[times.count / 2]
                results.append(
                    self.result(
                        "listing-\(verb.lowercased())",
                        metrics: ["ms": median, "lines": Double(lines)],
                        headline: .init(metric: "ms", higherIsBetter: false),
                        summary:
                            "\(Self.format(median, 1)) ms (\(verb) \(directory): \(lines) lines, median of \(runs))",
                        started: verbStarted
                    )
                )
            }
            return results
        }
    }

    // MARK: - Output

    private func result(
        _ scenario: String,
        _ status: ScenarioResult.Status = .ok,
        metrics: [String: Double] = [:],
        headline: ScenarioResult.Headline? = nil,
        summary: String,
        started: ContinuousClock.Instant
    ) -> ScenarioResult {
        ScenarioResult(
            label: self.settings.label,
            scenario: scenario,
            status: status,
            metrics: metrics,
            headline: headline,
            summary: summary,
            seconds: (ContinuousClock.now - started).inSeconds
        )
    }

    static func format(_ value: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", value)
    }

    static func bytes(_ count: Int64) -> String {
        count >= 1 << 30
            ? "\(format(Double(count) / Double(1 << 30), 2)) GiB"
            : count >= 1 << 20 ? "\(format(Double(count) / Double(1 << 20), 1)) MiB" : "\(count) bytes"
    }
}

/// Holds the memory reading taken while the sessions are held.
private actor MemoryBox {
    private(set) var value: (pss: Int, rss: Int)?
    func set(_ value: (pss: Int, rss: Int)) { self.value = value }
}
