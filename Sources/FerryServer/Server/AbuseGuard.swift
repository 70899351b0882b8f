import FerryProtocol
import NIOConcurrencyHelpers
import NIOCore

/// Connection limits and brute-force defence, shared by all sessions.
///
/// Every table is keyed by `ClientAddress`: an IPv4 address (also when it reached a dual-stack listener as
/// `::ffff:a.b.c.d`), or an IPv6 client's /64 prefix.
///
/// - Connections: at most `maximumConnections` in all and `maximumConnectionsPerAddress` from one address, and new
///   connections from one address at most `connectionRate` per second (bursts of `connectionBurst`); beyond that a
///   new connection gets `421` and is closed before a session exists (and before any TLS handshake).
/// - Sessions per user: at most `maximumSessionsPerUser` logged in at once; the next login gets `421`.
/// - Failed logins are counted twice:
///   - per (address, user name): the answer to each failure is delayed, doubling with every failure of that pair
///     (`failedLoginDelay`, 2×, 4×, … up to `maximumFailedLoginDelay`). A successful login clears that pair only.
///   - per address, with decay: every failure adds one, and the score drains by `failuresBeforeBan` per
///     `failureWindow`. At `failuresBeforeBan` the address is banned for `banDuration`, and its connections get
///     `421` at once. A successful login does **not** clear it: one valid account must not reset the count of
///     guesses against the others.
///
/// Memory is bounded: the tables are pruned when they grow past `maximumTrackedAddresses`.
final class AbuseGuard: Sendable {
    struct Limits: Sendable {
        var maximumConnections: Int
        var maximumConnectionsPerAddress: Int
        var maximumSessionsPerUser: Int
        var failedLoginDelay: Duration
        var maximumFailedLoginDelay: Duration
        var failuresBeforeBan: Int
        var banDuration: Duration
        var failureWindow: Duration
        /// New connections per second from one address (0: no limit), and the burst allowed above it.
        var connectionRate: Double = 0
        var connectionBurst: Double = 0
        var maximumTrackedAddresses = 100_000
    }

    /// A decaying score: `value` as of `at`.
    private struct Score {
        var value: Double
        var at: NIODeadline

        /// The value at `now`, drained at `rate` per second.
        func value(at now: NIODeadline, drainingPerSecond rate: Double) -> Double {
            let seconds = Double(max(0, (now - self.at).nanoseconds)) / 1e9
            return max(0, self.value - seconds * rate)
        }
    }

    private struct AddressFailures {
        var score: Score
        var bannedUntil: NIODeadline?
    }

    private struct PairFailures {
        var count: Int
        var last: NIODeadline
    }

    private struct Pair: Hashable {
        var address: ClientAddress
        var user: String
    }

    private struct State {
        var connections = 0
        var perAddress: [ClientAddress: Int] = [:]
        var perUser: [String: Int] = [:]
        var failures: [ClientAddress: AddressFailures] = [:]
        var pairs: [Pair: PairFailures] = [:]
        /// Connection-rate buckets: the score is the number of connections not yet drained.
        var rates: [ClientAddress: Score] = [:]
    }

    enum Admission: Equatable {
        case admitted
        /// The text of the 421 reply.
        case refused(String)
    }

    let limits: Limits
    private let state = NIOLockedValueBox(State())

    init(limits: Limits) {
        self.limits = limits
    }

    /// Failures drained per second from an address's score.
    private var drainRate: Double {
        let window =
            Double(self.limits.failureWindow.components.seconds) + 1e-18
            * Double(self.limits.failureWindow.components.attoseconds)
        return window > 0 ? Double(self.limits.failuresBeforeBan) / window : .infinity
    }

    /// Counts a new connection from `address`, or says why it is refused (then nothing is counted).
    /// `rateLimited` false exempts it from the connection rate (local clients, see `ServerConfiguration.isLocal`).
    func admitConnection(
        from address: ClientAddress,
        rateLimited: Bool = true,
        now: NIODeadline = .now()
    ) -> Admission {
        self.state.withLockedValue { state in
            if let until = state.failures[address]?.bannedUntil, until > now {
                let minutes = max(1, Int(((until - now).nanoseconds + 59_999_999_999) / 60_000_000_000))
                return .refused("Too many failed logins from your address; try again in \(minutes) minute(s).")
            }
            guard state.connections < self.limits.maximumConnections else {
                return .refused("Too many connections to this server (\(self.limits.maximumConnections)); try later.")
            }
            guard state.perAddress[address, default: 0] < self.limits.maximumConnectionsPerAddress else {
                return .refused(
                    "Too many connections from your address (limit \(self.limits.maximumConnectionsPerAddress))."
                )
            }
            if rateLimited, self.limits.connectionRate > 0 {
                if state.rates.count >= self.limits.maximumTrackedAddresses {
                    state.rates = state.rates.filter {
                        $0.value.value(at: now, drainingPerSecond: self.limits.connectionRate) > 0
                    }
                }
                let current =
                    state.rates[address]?.value(at: now, drainingPerSecond: self.limits.connectionRate) ?? 0
                guard current + 1 <= max(1, self.limits.connectionBurst) else {
                    return .refused("Too many new connections from your address; slow down and try again.")
                }
                state.rates[address] = Score(value: current + 1, at: now)
            }
            state.connections += 1
            state.perAddress[address, default: 0] += 1
            return .admitted
        }
    }

    func connectionClosed(from address: ClientAddress) {
        self.state.withLockedValue { state in
            state.connections -= 1
            let remaining = state.perAddress[address, default: 1] - 1
            state.perAddress[address] = remaining > 0 ? remaining : nil
        }
    }

    /// Records a failed login of `user` from `address`; returns how long to wait before answering it, and whether
    /// the address is now banned.
    func loginFailed(
        from address: ClientAddress,
        user: String,
        now: NIODeadline = .now()
    ) -> (delay: Duration, banned: Bool) {
        self.state.withLockedValue { state in
            if state.failures.count >= self.limits.maximumTrackedAddresses
                || state.pairs.count >= self.limits.maximumTrackedAddresses
            {
                self.prune(&state, now: now)
            }
            // The user name only as a key of this table, bounded, never logged: people type passwords into USER.
            let pair = Pair(address: address, user: String(user.prefix(256)))
            var record = state.pairs[pair] ?? PairFailures(count: 0, last: now)
            if now - record.last > TimeAmount(self.limits.failureWindow) { record.count = 0 }
            record.count += 1
            record.last = now
            state.pairs[pair] = record

            var failures = state.failures[address] ?? AddressFailures(score: Score(value: 0, at: now))
            let score = failures.score.value(at: now, drainingPerSecond: self.drainRate) + 1
            failures.score = Score(value: score, at: now)
            // A little slack: failures a few seconds apart have already drained a few hundredths.
            let banned = score + 0.05 >= Double(self.limits.failuresBeforeBan)
            if banned { failures.bannedUntil = now + TimeAmount(self.limits.banDuration) }
            state.failures[address] = failures
            // base × 2^(n-1), capped.
            let factor = 1 << min(record.count - 1, 16)
            let delay = min(self.limits.failedLoginDelay * factor, self.limits.maximumFailedLoginDelay)
            return (delay, banned)
        }
    }

    /// A successful login clears the delay of this (address, user) pair; the address's score stays.
    func loginSucceeded(from address: ClientAddress, user: String, now: NIODeadline = .now()) {
        _ = self.state.withLockedValue { $0.pairs.removeValue(forKey: Pair(address: address, user: user)) }
    }

    /// Whether `address` is banned now (for tests and STAT).
    func isBanned(_ address: ClientAddress, now: NIODeadline = .now()) -> Bool {
        self.state.withLockedValue { state in
            guard let until = state.failures[address]?.bannedUntil else { return false }
            return until > now
        }
    }

    /// Counts a logged-in session of `user`, or returns false if the user already has the most allowed.
    func admitSession(of user: String) -> Bool {
        self.state.withLockedValue { state in
            guard state.perUser[user, default: 0] < self.limits.maximumSessionsPerUser else { return false }
            state.perUser[user, default: 0] += 1
            return true
        }
    }

    func sessionEnded(of user: String) {
        self.state.withLockedValue { state in
            let remaining = state.perUser[user, default: 1] - 1
            state.perUser[user] = remaining > 0 ? remaining : nil
        }
    }

    private func prune(_ state: inout State, now: NIODeadline) {
        let window = TimeAmount(self.limits.failureWindow)
        let rate = self.drainRate
        state.failures = state.failures.filter { _, record in
            if let until = record.bannedUntil, until > now { return true }
            return record.score.value(at: now, drainingPerSecond: rate) > 0
        }
        state.pairs = state.pairs.filter { now - $0.value.last <= window }
        // Still full (an attack from very many addresses): forget the oldest half.
        if state.failures.count >= self.limits.maximumTrackedAddresses {
            let sorted = state.failures.sorted { $0.value.score.at < $1.value.score.at }
            for (address, _) in sorted.prefix(sorted.count / 2) { state.failures.removeValue(forKey: address) }
        }
        if state.pairs.count >= self.limits.maximumTrackedAddresses {
            let sorted = state.pairs.sorted { $0.value.last < $1.value.last }
            for (pair, _) in sorted.prefix(sorted.count / 2) { state.pairs.removeValue(forKey: pair) }
        }
    }
}
