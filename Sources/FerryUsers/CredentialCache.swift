import Crypto
import Foundation
import NIOConcurrencyHelpers

/// Remembers, for a short time, which (user, password, stored hash) triples were verified, so that repeated logins of
/// the same user do not pay the memory-hard hash every time (as SFTPGo's password cache does).
///
/// - Only successes are remembered: a wrong password always pays the full hash, so guessing gets no faster.
/// - Entries are keyed with HMAC-SHA256 under a random per-process key: the table holds neither passwords nor plain
///   digests of them, and nothing in it outlives the process. (Whoever can dump the running process's memory also
///   gets the key, and can then test guesses against a cached entry at HMAC speed instead of scrypt speed; the
///   time-to-live bounds which passwords that concerns, and a TTL of zero turns the cache off.)
/// - The stored hash is part of the key: a password change (here or by another process writing the same database)
///   makes old entries unreachable at once; ``invalidate(user:)`` also drops them explicitly.
/// - Identical verifications that arrive together (a burst of logins of one user) share one hash computation.
/// - The table is bounded (``capacity``); expired entries are dropped first, then the oldest.
public final class CredentialCache: Sendable {
    /// How long a verified credential is remembered.
    public let timeToLive: Duration
    /// The most credentials remembered at once.
    public let capacity: Int

    private let key = SymmetricKey(size: .bits256)
    private let state = NIOLockedValueBox(State())

    private struct Entry {
        var user: String
        var expires: ContinuousClock.Instant
    }

    private enum Outcome {
        /// Answered from the table, or by the verification another caller ran.
        case answered(Bool)
        /// Nobody is verifying these credentials: this caller runs the verification.
        case verifyHere
    }

    private struct State {
        var entries: [Data: Entry] = [:]
        /// Verifications running now, with the callers waiting for their result.
        var inFlight: [Data: [CheckedContinuation<Outcome, Never>]] = [:]
        var hits = 0
    }

    /// - Parameters:
    ///   - timeToLive: How long a success is remembered (zero disables the cache).
    ///   - capacity: The most entries kept.
    public init(timeToLive: Duration = .seconds(300), capacity: Int = 4096) {
        self.timeToLive = timeToLive
        self.capacity = max(0, capacity)
    }

    /// Whether the cache remembers anything at all.
    public var isEnabled: Bool { self.timeToLive > .zero && self.capacity > 0 }

    /// How many verifications the cache answered (remembered or shared), for tests and diagnostics.
    public var hits: Int { self.state.withLockedValue { $0.hits } }

    /// How many credentials are remembered now (including expired ones not yet dropped).
    public var count: Int { self.state.withLockedValue { $0.entries.count } }

    /// Answers from the cache when the triple was verified recently or is being verified now; otherwise runs
    /// `verify` (once for all callers asking the same at the same time) and remembers a success.
    ///
    /// - Parameters:
    ///   - user: The user's name.
    ///   - password: The password sent.
    ///   - storedHash: The user's stored hash that `verify` checks against.
    ///   - verify: The full verification.
    public func verify(
        user: String,
        password: Password,
        storedHash: String,
        by verify: @escaping @Sendable () async -> Bool
    ) async -> Bool {
        guard self.isEnabled else { return await verify() }
        let tag = self.tag(user: user, password: password, storedHash: storedHash)
        let now = ContinuousClock.now
        // Decided under one lock: remembered, wait for the verification in flight, or run it in this task (no
        // separate task: the verification runs wherever the caller runs, e.g. on a session's event loop).
        let outcome: Outcome = await withCheckedContinuation { continuation in
            let immediate: Outcome? = self.state.withLockedValue { state in
                if let entry = state.entries[tag], entry.expires > now {
                    state.hits += 1
                    return .answered(true)
                }
                if state.inFlight[tag] != nil {
                    state.hits += 1
                    state.inFlight[tag]!.append(continuation)
                    return nil
                }
                state.inFlight[tag] = []
                return .verifyHere
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
        switch outcome {
        case .answered(let matches):
            return matches
        case .verifyHere:
            let matches = await verify()
            let waiters = self.state.withLockedValue { state in
                if matches { self.insert(tag, user: user, now: ContinuousClock.now, into: &state) }
                return state.inFlight.removeValue(forKey: tag) ?? []
            }
            for waiter in waiters { waiter.resume(returning: .answered(matches)) }
            return matches
        }
    }

    /// Forgets every credential of `user` (after a password change or removal).
    public func invalidate(user: String) {
        self.state.withLockedValue { state in
            state.entries = state.entries.filter { $0.value.user != user }
        }
    }

    /// Forgets everything.
    public func removeAll() {
        self.state.withLockedValue { $0.entries.removeAll() }
    }

    private func tag(user: String, password: Password, storedHash: String) -> Data {
        var hmac = HMAC<SHA256>(key: self.key)
        // Lengths first, so that no two different triples give the same byte string.
        for field in [Array(user.utf8), password.bytes, Array(storedHash.utf8)] {
            withUnsafeBytes(of: UInt64(field.count).bigEndian) { hmac.update(data: $0) }
            hmac.update(data: field)
        }
        return Data(hmac.finalize())
    }

    private func insert(_ tag: Data, user: String, now: ContinuousClock.Instant, into state: inout State) {
        if state.entries[tag] == nil, state.entries.count >= self.capacity {
            state.entries = state.entries.filter { $0.value.expires > now }
            while state.entries.count >= self.capacity,
                let oldest = state.entries.min(by: { $0.value.expires < $1.value.expires })
            {
                state.entries[oldest.key] = nil
            }
        }
        state.entries[tag] = Entry(user: user, expires: now + self.timeToLive)
    }
}
