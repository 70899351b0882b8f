import Foundation
import NIOConcurrencyHelpers
import Testing

@testable import FerryUsers

@Suite("Credential cache")
struct CredentialCacheTests {
    static let secret = "correct horse battery staple"

    @Test("a repeated login of the same user skips the hash; wrong passwords never do")
    func repeatedLogins() async throws {
        try await withAuthenticator { authenticator, store, _ in
            let hash = try await authenticator.hashNewPassword(Password(Self.secret))
            try await store.add(name: "carol", passwordHash: hash)

            #expect(await authenticator.authenticate(name: "carol", password: Password(Self.secret)) != nil)
            #expect(authenticator.statistics.verifications == 1)
            for _ in 0..<5 {
                #expect(await authenticator.authenticate(name: "carol", password: Password(Self.secret)) != nil)
            }
            #expect(authenticator.statistics.verifications == 1)
            #expect(authenticator.credentialCache.hits == 5)

            // Every wrong guess pays the full hash, before and after a success.
            for guess in ["wrong", Self.secret + " ", ""] {
                #expect(await authenticator.authenticate(name: "carol", password: Password(guess)) == nil)
            }
            #expect(authenticator.statistics.verifications == 4)
            // Unknown users are never answered from the cache either.
            #expect(await authenticator.authenticate(name: "nobody", password: Password(Self.secret)) == nil)
            #expect(authenticator.statistics.verifications == 5)
        }
    }

    @Test("a password changed in the store stops the old one at once, without an explicit invalidation")
    func passwordChange() async throws {
        try await withAuthenticator { authenticator, store, _ in
            try await store.add(name: "dave", passwordHash: try await authenticator.hashNewPassword("old-password"))
            #expect(await authenticator.authenticate(name: "dave", password: "old-password") != nil)
            #expect(await authenticator.authenticate(name: "dave", password: "old-password") != nil)
            #expect(authenticator.credentialCache.hits == 1)

            // As `ferryd user passwd` does from another process: only the database changes.
            try await store.setPasswordHash(name: "dave", hash: try await authenticator.hashNewPassword("new-password"))
            #expect(await authenticator.authenticate(name: "dave", password: "old-password") == nil)
            #expect(await authenticator.authenticate(name: "dave", password: "new-password") != nil)
            #expect(await authenticator.authenticate(name: "dave", password: "new-password") != nil)
            #expect(authenticator.credentialCache.hits == 2)

            // A removed user cannot log in with remembered credentials.
            _ = try await store.remove(name: "dave")
            #expect(await authenticator.authenticate(name: "dave", password: "new-password") == nil)
        }
    }

    @Test("a time-to-live of zero hashes every login")
    func disabled() async throws {
        try await withAuthenticator(credentialCache: CredentialCache(timeToLive: .zero)) { authenticator, store, _ in
            try await store.add(name: "erin", passwordHash: try await authenticator.hashNewPassword("pw-erin-1"))
            for _ in 0..<3 {
                #expect(await authenticator.authenticate(name: "erin", password: "pw-erin-1") != nil)
            }
            #expect(authenticator.statistics.verifications == 3)
            #expect(authenticator.credentialCache.count == 0)
        }
    }

    @Test("entries expire after the time-to-live")
    func expiry() async throws {
        let cache = CredentialCache(timeToLive: .milliseconds(100))
        let calls = NIOLockedValueBox(0)
        let verify: @Sendable () async -> Bool = {
            calls.withLockedValue { $0 += 1 }
            return true
        }
        #expect(await cache.verify(user: "u", password: "p", storedHash: "h", by: verify))
        #expect(await cache.verify(user: "u", password: "p", storedHash: "h", by: verify))
        #expect(calls.withLockedValue { $0 } == 1)
        try await Task.sleep(for: .milliseconds(250))
        #expect(await cache.verify(user: "u", password: "p", storedHash: "h", by: verify))
        #expect(calls.withLockedValue { $0 } == 2)
    }

    @Test("failures are not remembered, and each field of the triple matters")
    func keyFields() async {
        let cache = CredentialCache()
        let calls = NIOLockedValueBox(0)
        func check(_ user: String, _ password: String, _ hash: String, result: Bool) async -> Bool {
            await cache.verify(user: user, password: Password(password), storedHash: hash) {
                calls.withLockedValue { $0 += 1 }
                return result
            }
        }
        #expect(await check("u", "p", "h", result: false) == false)
        #expect(await check("u", "p", "h", result: false) == false)
        #expect(calls.withLockedValue { $0 } == 2)
        #expect(await check("u", "p", "h", result: true))
        #expect(await check("u", "p", "h", result: false))  // remembered
        #expect(calls.withLockedValue { $0 } == 3)
        // Moving bytes between fields must not collide.
        #expect(await check("up", "", "h", result: false) == false)
        #expect(await check("u", "ph", "", result: false) == false)
        #expect(await check("u", "p", "h2", result: false) == false)
        #expect(await check("v", "p", "h", result: false) == false)
        #expect(calls.withLockedValue { $0 } == 7)
        cache.invalidate(user: "u")
        #expect(await check("u", "p", "h", result: false) == false)
    }

    @Test("a burst of identical logins shares one verification")
    func burstSharesOneHash() async throws {
        let cache = CredentialCache()
        let calls = NIOLockedValueBox(0)
        let gate = AsyncStream<Void>.makeStream()
        let verify: @Sendable () async -> Bool = {
            calls.withLockedValue { $0 += 1 }
            for await _ in gate.stream { break }
            return true
        }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 {
                group.addTask { await cache.verify(user: "u", password: "p", storedHash: "h", by: verify) }
            }
            // Wait until the other 19 have joined the one running verification, then let it finish.
            let deadline = ContinuousClock.now + .seconds(10)
            while cache.hits < 19, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            gate.continuation.yield()
            gate.continuation.finish()
            for try await result in group { #expect(result) }
        }
        #expect(calls.withLockedValue { $0 } == 1)
        #expect(cache.hits == 19)
    }

    @Test("the table stays within its capacity, dropping the oldest")
    func capacity() async {
        let cache = CredentialCache(capacity: 2)
        for user in ["a", "b", "c", "d"] {
            _ = await cache.verify(user: user, password: "p", storedHash: "h") { true }
        }
        #expect(cache.count == 2)
        // The newest are kept.
        #expect(await cache.verify(user: "d", password: "p", storedHash: "h") { false })
        #expect(await cache.verify(user: "a", password: "p", storedHash: "h") { false } == false)
    }
}
