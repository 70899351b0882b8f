import Foundation
import Testing

@testable import FerryUsers

@Suite("Authenticator")
struct AuthenticatorTests {
    static let secret = "Tr0ub4dor&3-unique"

    @Test("good password, wrong password, unknown user")
    func basics() async throws {
        try await withAuthenticator { authenticator, store, logs in
            let hash = try await authenticator.hashNewPassword(Password(Self.secret))
            #expect(PasswordHasher.algorithm(of: hash) == cheapScrypt)
            try await store.add(name: "bob", passwordHash: hash)

            let record = await authenticator.authenticate(name: "bob", password: Password(Self.secret))
            #expect(record?.name == "bob")
            #expect(record?.passwordHash == hash)
            #expect(await authenticator.authenticate(name: "bob", password: "wrong") == nil)
            #expect(await authenticator.authenticate(name: "bob", password: "") == nil)
            #expect(await authenticator.authenticate(name: "BOB", password: Password(Self.secret)) == nil)
            #expect(await authenticator.authenticate(name: "alice", password: Password(Self.secret)) == nil)
            #expect(authenticator.statistics.verifications == 5)
            #expect(authenticator.statistics.hashes == 1)
            // The stored hash is current: no upgrade happened.
            #expect(try await store.user(named: "bob")?.passwordHash == hash)
            #expect(!logs.lines.joined().contains(Self.secret))
        }
    }

    @Test("unknown and invalid user names still cost one full verification")
    func unknownUserDoesTheWork() async throws {
        try await withAuthenticator { authenticator, _, _ in
            #expect(authenticator.statistics.verifications == 0)
            #expect(await authenticator.authenticate(name: "nobody", password: "pw") == nil)
            #expect(authenticator.statistics.verifications == 1)
            #expect(await authenticator.authenticate(name: "../etc/passwd", password: "pw") == nil)
            #expect(authenticator.statistics.verifications == 2)
            #expect(await authenticator.authenticate(name: "", password: "pw") == nil)
            #expect(authenticator.statistics.verifications == 3)
            // No hash is made for unknown users: the dummy hash exists from the start.
            #expect(authenticator.statistics.hashes == 0)
        }
    }

    @Test("a user whose stored hash is unusable cannot log in, at the usual cost")
    func disabledUser() async throws {
        try await withAuthenticator { authenticator, store, _ in
            try await store.add(name: "locked", passwordHash: "!")
            #expect(await authenticator.authenticate(name: "locked", password: "!") == nil)
            #expect(await authenticator.authenticate(name: "locked", password: "") == nil)
            #expect(authenticator.statistics.verifications == 2)
        }
    }

    @Test(
        "a hash made with other parameters is upgraded on login",
        arguments: [cheapPBKDF2, .scrypt(logN: 11, r: 8, p: 1), .scrypt(logN: 10, r: 4, p: 1)]
    )
    func upgradeOnLogin(old: PasswordHashAlgorithm) async throws {
        try await withAuthenticator(algorithm: cheapScrypt) { authenticator, store, logs in
            let oldHash = try PasswordHasher.hash(Password(Self.secret), algorithm: old)
            let added = try await store.add(name: "bob", passwordHash: oldHash)

            // A wrong password changes nothing.
            #expect(await authenticator.authenticate(name: "bob", password: "wrong") == nil)
            #expect(try await store.user(named: "bob")?.passwordHash == oldHash)

            let record = try #require(await authenticator.authenticate(name: "bob", password: Password(Self.secret)))
            #expect(record.passwordHash != oldHash)
            #expect(PasswordHasher.algorithm(of: record.passwordHash) == cheapScrypt)
            let stored = try #require(try await store.user(named: "bob"))
            #expect(stored.passwordHash == record.passwordHash)
            #expect(stored.passwordChangedAt == added.passwordChangedAt)
            #expect(PasswordHasher.verify(Password(Self.secret), against: stored.passwordHash))
            #expect(authenticator.statistics.hashes == 1)

            // The next login uses the new hash and does not upgrade again.
            #expect(await authenticator.authenticate(name: "bob", password: Password(Self.secret)) != nil)
            #expect(authenticator.statistics.hashes == 1)
            #expect(logs.lines.contains { $0.contains("upgraded stored password hash") })
            #expect(!logs.lines.joined().contains(Self.secret))
        }
    }

    @Test("concurrent logins respect the hashing bound and all get the right answer")
    func concurrencyBound() async throws {
        // Without the credential cache, which would share the repeated identical logins.
        try await withAuthenticator(
            algorithm: .scrypt(logN: 12, r: 8, p: 1),
            maxConcurrentHashes: 2,
            credentialCache: CredentialCache(timeToLive: .zero)
        ) {
            authenticator,
            store,
            _ in
            let hash = try await authenticator.hashNewPassword("pw")
            try await store.add(name: "bob", passwordHash: hash)
            try await store.add(name: "alice", passwordHash: hash)
            let attempts: [(name: String, password: String, succeeds: Bool)] = [
                ("bob", "pw", true), ("alice", "pw", true), ("bob", "nope", false), ("ghost", "pw", false),
                ("alice", "pw", true), ("alice", "PW", false), ("bob", "pw", true), ("-bad", "pw", false),
            ]
            let results = await withTaskGroup(of: (Int, UserRecord?).self) { group in
                for (index, attempt) in attempts.enumerated() {
                    group.addTask {
                        (
                            index,
                            await authenticator.authenticate(name: attempt.name, password: Password(attempt.password))
                        )
                    }
                }
                var results: [Int: UserRecord?] = [:]
                for await (index, record) in group {
                    results[index] = record
                }
                return results
            }
            for (index, attempt) in attempts.enumerated() {
                let record = results[index] ?? nil
                #expect((record != nil) == attempt.succeeds, "attempt \(index): \(attempt.name)")
                if let record {
                    #expect(record.name == attempt.name)
                }
            }
            #expect(authenticator.statistics.verifications == 8)
            #expect(authenticator.statistics.peakRunning <= 2)
            #expect(authenticator.statistics.peakRunning >= 1)
        }
    }

    @Test("identical wrong guesses cost the same hashes for a known and an unknown user (no timing enumeration)")
    func identicalGuessesCostTheSame() async throws {
        // A hash slow enough (16 MiB scrypt) that six tasks started together overlap with the first one.
        try await withAuthenticator(algorithm: .scrypt(logN: 14, r: 8, p: 1), maxConcurrentHashes: 1) {
            authenticator,
            store,
            _ in
            let hash = try await authenticator.hashNewPassword(Password(Self.secret))
            try await store.add(name: "bob", passwordHash: hash, home: nil, quotaBytes: nil, quotaFiles: nil)
            var costs: [Int] = []
            for name in ["bob", "ghost"] {
                let before = authenticator.statistics.verifications
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<6 {
                        group.addTask { _ = await authenticator.authenticate(name: name, password: "same guess") }
                    }
                }
                costs.append(authenticator.statistics.verifications - before)
            }
            // Merging identical checks must not depend on whether the name exists. How many of the six overlap
            // depends on the scheduler, so the test asks that they were merged for both (an unknown name used to pay
            // all six, a known one about one).
            #expect(
                costs[0] < 6 && costs[1] < 6,
                "hashes for 6 identical guesses: known \(costs[0]), unknown \(costs[1])"
            )
        }
    }

    @Test("logins beyond the hash queue are refused as busy, not queued without bound")
    func queueBound() async throws {
        try await withAuthenticator(maxConcurrentHashes: 1, maxQueuedHashes: 2) { authenticator, _, _ in
            let outcomes = await withTaskGroup(of: String.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        switch await authenticator.login(name: "ghost", password: Password("guess \(index)")) {
                        case .busy: return "busy"
                        case .failure: return "failure"
                        case .success: return "success"
                        }
                    }
                }
                return await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(outcomes.contains("busy"))
            #expect(outcomes.filter { $0 == "failure" }.count >= 2)
            #expect(authenticator.statistics.verifications <= 8 - outcomes.filter { $0 == "busy" }.count)
        }
    }

    @Test("a single-thread authenticator never runs two hashes at once")
    func singleThread() async throws {
        try await withAuthenticator(maxConcurrentHashes: 1) { authenticator, _, _ in
            await withTaskGroup(of: Void.self) { group in
                // Four different guesses: identical ones would share one hash (see `identicalGuessesCostTheSame`).
                for index in 0..<4 {
                    group.addTask {
                        _ = await authenticator.authenticate(name: "ghost", password: Password("pw\(index)"))
                    }
                }
            }
            #expect(authenticator.statistics.peakRunning == 1)
            #expect(authenticator.statistics.verifications == 4)
        }
    }

    @Test("after shutdown, logins fail and hashing throws, without crashing")
    func afterShutdown() async throws {
        try await withAuthenticator { authenticator, store, _ in
            let hash = try PasswordHasher.hash("pw", algorithm: cheapScrypt)
            try await store.add(name: "bob", passwordHash: hash)
            await authenticator.shutdown()
            #expect(await authenticator.authenticate(name: "bob", password: "pw") == nil)
            await #expect(throws: (any Error).self) {
                try await authenticator.hashNewPassword("pw")
            }
        }
    }

    @Test("an authenticator that is never shut down explicitly can be released")
    func releasedWithoutShutdown() async throws {
        try await withStore { store, _ in
            var authenticator: Authenticator? = Authenticator(
                store: store,
                algorithm: cheapScrypt,
                logger: .init(label: "test") { _ in CapturingLogHandler(capture: LogCapture()) }
            )
            #expect(await authenticator?.authenticate(name: "ghost", password: "pw") == nil)
            authenticator = nil
            #expect(authenticator == nil)
        }
    }
}
