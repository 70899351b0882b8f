import NIOConcurrencyHelpers
import NIOCore

/// Connection limits and brute-force defence, shared by all sessions.
///
/// - Connections: at most `maximumConnections` in all and `maximumConnectionsPerAddress` from one IP address;
///   beyond that a new connection gets `421` and is closed before a session exists.
/// - Sessions per user: at most `maximumSessionsPerUser` logged in at once; the next login gets `421`.
/// - Failed logins per address: each one is answered after a delay that doubles with every failure in the window
///   (`failedLoginDelay`, 2×, 4×, … up to `maximumFailedLoginDelay`); after `failuresBeforeBan` failures the
///   address is banned for `banDuration`, and its connections get `421` at once. A successful login clears the
///   address's record. The record of an address is forgotten `failureWindow` after its last failure.
///
/// Memory is bounded: the table of failing addresses is pruned when it grows past `maximumTrackedAddresses`.
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
        var maximumTrackedAddresses = 100_000
    }

    private struct Failures {
        var count: Int
        var last: NIODeadline
        var bannedUntil: NIODeadline?
    }

    private struct State {
        var connections = 0
        var perAddress: [String: Int] = [:]
        var perUser: [String: Int] = [:]
        var failures: [String: Failures] = [:]
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

    /// Counts a new connection from `address`, or says why it is refused (then nothing is counted).
    func admitConnection(from address: String, now: NIODeadline = .now()) -> Admission {
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
            state.connections += 1
            state.perAddress[address, default: 0] += 1
            return .admitted
        }
    }

    func connectionClosed(from address: String) {
        self.state.withLockedValue { state in
            state.connections -= 1
            let remaining = state.perAddress[address, default: 1] - 1
            state.perAddress[address] = remaining > 0 ? remaining : nil
        }
    }

    /// Records a failed login and returns how long to wait before answering it, and whether the address is now
    /// banned.
    func loginFailed(from address: String, now: NIODeadline = .now()) -> (delay: Duration, banned: Bool) {
        self.state.withLockedValue { state in
            if state.failures.count >= self.limits.maximumTrackedAddresses {
                Self.prune(&state, now: now, limits: self.limits)
            }
            var record = state.failures[address] ?? Failures(count: 0, last: now)
            if now - record.last > TimeAmount(self.limits.failureWindow) { record.count = 0 }
            record.count += 1
            record.last = now
            let banned = record.count >= self.limits.failuresBeforeBan
            if banned { record.bannedUntil = now + TimeAmount(self.limits.banDuration) }
            state.failures[address] = record
            // base × 2^(n-1), capped.
            let factor = 1 << min(record.count - 1, 16)
            let delay = min(self.limits.failedLoginDelay * factor, self.limits.maximumFailedLoginDelay)
            return (delay, banned)
        }
    }

    /// A successful login clears the address's failures.
    func loginSucceeded(from address: String) {
        _ = self.state.withLockedValue { $0.failures.removeValue(forKey: address) }
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

    private static func prune(_ state: inout State, now: NIODeadline, limits: Limits) {
        let window = TimeAmount(limits.failureWindow)
        state.failures = state.failures.filter { _, record in
            if let until = record.bannedUntil, until > now { return true }
            return now - record.last <= window
        }
        // Still full (an attack from very many addresses): forget the oldest half.
        if state.failures.count >= limits.maximumTrackedAddresses {
            let sorted = state.failures.sorted { $0.value.last < $1.value.last }
            for (address, _) in sorted.prefix(sorted.count / 2) { state.failures.removeValue(forKey: address) }
        }
    }
}
