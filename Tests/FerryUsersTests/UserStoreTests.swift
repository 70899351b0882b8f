import Foundation
import Testing

@testable import FerryUsers

@Suite("User store")
struct UserStoreTests {
    @Test("add and read back a user")
    func addAndFetch() async throws {
        try await withStore { store, _ in
            #expect(try await store.isEmpty())
            let before = Date()
            let added = try await store.add(name: "bob", passwordHash: "$hash")
            #expect(added.name == "bob")
            #expect(added.passwordHash == "$hash")
            #expect(added.home == nil)
            #expect(added.quotaBytes == nil)
            #expect(added.quotaFiles == nil)
            #expect(added.usedBytes == 0)
            #expect(added.usedFiles == 0)
            #expect(abs(added.createdAt.timeIntervalSince(before)) < 5)
            #expect(added.passwordChangedAt == added.createdAt)
            #expect(try await store.user(named: "bob") == added)
            #expect(try await !store.isEmpty())
        }
    }

    @Test("names are case-sensitive")
    func caseSensitive() async throws {
        try await withStore { store, _ in
            try await store.add(name: "bob", passwordHash: "h1")
            #expect(try await store.user(named: "BOB") == nil)
            try await store.add(name: "Bob", passwordHash: "h2")
            #expect(try await store.user(named: "Bob")?.passwordHash == "h2")
        }
    }

    @Test("adding an existing user fails")
    func duplicate() async throws {
        try await withStore { store, _ in
            try await store.add(name: "bob", passwordHash: "h1")
            await #expect(throws: UserStoreError.userExists("bob")) {
                try await store.add(name: "bob", passwordHash: "h2")
            }
            #expect(try await store.user(named: "bob")?.passwordHash == "h1")
            #expect(UserStoreError.userExists("bob").description == "user 'bob' already exists")
        }
    }

    @Test("invalid names, homes and quotas are rejected")
    func invalidInput() async throws {
        try await withStore { store, _ in
            await #expect(throws: UserStoreError.self) {
                try await store.add(name: "../etc", passwordHash: "h")
            }
            for home in ["relative/dir", "", "/srv/../etc", "/srv/./x", "/a\u{0}b"] {
                await #expect(throws: UserStoreError.invalidHome(home)) {
                    try await store.add(name: "bob", passwordHash: "h", home: home)
                }
            }
            await #expect(throws: UserStoreError.invalidQuota("the byte quota")) {
                try await store.add(name: "bob", passwordHash: "h", quotaBytes: -1)
            }
            #expect(try await store.isEmpty())
            let added = try await store.add(name: "bob", passwordHash: "h", home: "/srv/ftp/bob/")
            #expect(added.home == "/srv/ftp/bob/")
            await #expect(throws: UserStoreError.invalidQuota("the file quota")) {
                try await store.setQuota(name: "bob", bytes: nil, files: -5)
            }
            await #expect(throws: UserStoreError.invalidHome("x")) {
                try await store.setHome(name: "bob", home: "x")
            }
        }
    }

    @Test("unknown users")
    func unknownUser() async throws {
        try await withStore { store, _ in
            let missing = try await store.user(named: "ghost")
            #expect(missing == nil)
            let ghost = UserStoreError.noSuchUser("ghost")
            await #expect(throws: ghost) { try await store.setPasswordHash(name: "ghost", hash: "h") }
            await #expect(throws: ghost) { try await store.setQuota(name: "ghost", bytes: 1, files: 1) }
            await #expect(throws: ghost) { try await store.setHome(name: "ghost", home: nil) }
            await #expect(throws: ghost) { try await store.setUsage(name: "ghost", bytes: 1, files: 1) }
            await #expect(throws: ghost) {
                try await store.adjustUsage(name: "ghost", bytesDelta: 1, filesDelta: 1)
            }
            await #expect(throws: ghost) { try await store.remove(name: "ghost") }
            #expect(ghost.description == "there is no user 'ghost'")
        }
    }

    @Test("quotas can be set and made unlimited")
    func quotas() async throws {
        try await withStore { store, _ in
            try await store.add(name: "bob", passwordHash: "h", quotaBytes: 1_000, quotaFiles: 10)
            var bob = try #require(try await store.user(named: "bob"))
            #expect(bob.quotaBytes == 1_000)
            #expect(bob.quotaFiles == 10)

            try await store.setQuota(name: "bob", bytes: 5_000_000_000_000, files: nil)
            bob = try #require(try await store.user(named: "bob"))
            #expect(bob.quotaBytes == 5_000_000_000_000)
            #expect(bob.quotaFiles == nil)

            try await store.setQuota(name: "bob", bytes: nil, files: nil)
            bob = try #require(try await store.user(named: "bob"))
            #expect(bob.quotaBytes == nil)
            #expect(bob.quotaFiles == nil)
        }
    }

    @Test("password hash and home can be changed")
    func updates() async throws {
        try await withStore { store, _ in
            let added = try await store.add(name: "bob", passwordHash: "old")
            try await Task.sleep(for: .milliseconds(20))
            try await store.setPasswordHash(name: "bob", hash: "new")
            var bob = try #require(try await store.user(named: "bob"))
            #expect(bob.passwordHash == "new")
            #expect(bob.passwordChangedAt > added.passwordChangedAt)
            #expect(bob.createdAt == added.createdAt)

            try await store.setHome(name: "bob", home: "/srv/bob")
            bob = try #require(try await store.user(named: "bob"))
            #expect(bob.home == "/srv/bob")
            #expect(bob.homeDirectory(dataDirectory: "/data") == "/srv/bob")
            try await store.setHome(name: "bob", home: nil)
            bob = try #require(try await store.user(named: "bob"))
            #expect(bob.homeDirectory(dataDirectory: "/data/") == "/data/homes/bob")

            #expect(try await store.replacePasswordHash(name: "bob", old: "stale", new: "x") == false)
            #expect(try await store.replacePasswordHash(name: "bob", old: "new", new: "newer") == true)
            let after = try #require(try await store.user(named: "bob"))
            #expect(after.passwordHash == "newer")
            #expect(after.passwordChangedAt == bob.passwordChangedAt)
        }
    }

    @Test("remove returns the removed record")
    func remove() async throws {
        try await withStore { store, _ in
            try await store.add(name: "alice", passwordHash: "h")
            let bob = try await store.add(name: "bob", passwordHash: "h", home: "/srv/bob", quotaBytes: 7)
            let removed = try await store.remove(name: "bob")
            #expect(removed == bob)
            #expect(try await store.user(named: "bob") == nil)
            #expect(try await store.allUsers().map(\.name) == ["alice"])
            try await store.remove(name: "alice")
            #expect(try await store.isEmpty())
        }
    }

    @Test("users are listed sorted by name")
    func listSorted() async throws {
        try await withStore { store, _ in
            let names = ["carol", "alice", "Bob", "bob", "a.b", "_x", "zed", "9lives"]
            for name in names {
                try await store.add(name: name, passwordHash: "h")
            }
            #expect(try await store.allUsers().map(\.name) == names.sorted())
        }
    }

    @Test("usage can be set and adjusted, clamped at zero")
    func usage() async throws {
        try await withStore { store, _ in
            try await store.add(name: "bob", passwordHash: "h")
            try await store.setUsage(name: "bob", bytes: 100, files: 3)
            var bob = try await store.adjustUsage(name: "bob", bytesDelta: 50, filesDelta: 1)
            #expect(bob.usedBytes == 150)
            #expect(bob.usedFiles == 4)
            bob = try await store.adjustUsage(name: "bob", bytesDelta: -1_000, filesDelta: -10)
            #expect(bob.usedBytes == 0)
            #expect(bob.usedFiles == 0)
            #expect(try await store.user(named: "bob") == bob)
            await #expect(throws: UserStoreError.invalidQuota("the used bytes")) {
                try await store.setUsage(name: "bob", bytes: -1, files: 0)
            }
        }
    }

    @Test("50 concurrent usage adjustments all count")
    func concurrentAdjust() async throws {
        try await withStore { store, _ in
            try await store.add(name: "bob", passwordHash: "h")
            try await store.add(name: "alice", passwordHash: "h")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 1...50 {
                    group.addTask {
                        try await store.adjustUsage(name: "bob", bytesDelta: Int64(index), filesDelta: 1)
                    }
                }
                try await group.waitForAll()
            }
            let bob = try #require(try await store.user(named: "bob"))
            #expect(bob.usedBytes == Int64((1...50).reduce(0, +)))
            #expect(bob.usedFiles == 50)
            #expect(try await store.user(named: "alice")?.usedBytes == 0)
        }
    }

    @Test("the database persists, is private and creates its parent directories")
    func reopen() async throws {
        try await withTemporaryDirectory { directory in
            let path = "\(directory)/nested/deeper/users.sqlite"
            var added: UserRecord
            do {
                let store = try UserStore.open(path: path)
                added = try await store.add(name: "bob", passwordHash: "h", home: "/srv/bob", quotaFiles: 9)
                try await store.adjustUsage(name: "bob", bytesDelta: 10, filesDelta: 2)
                added.usedBytes = 10
                added.usedFiles = 2
            }
            let mode = try #require(
                try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
            )
            #expect(mode.intValue & 0o777 == 0o600)
            let parentMode = try #require(
                try FileManager.default.attributesOfItem(atPath: "\(directory)/nested/deeper")[.posixPermissions]
                    as? NSNumber
            )
            #expect(parentMode.intValue & 0o077 == 0)

            let reopened = try UserStore(path: path)
            #expect(try await reopened.user(named: "bob") == added)
            #expect(try await reopened.allUsers().count == 1)
        }
    }

    @Test("two stores on the same file see each other's writes (server and admin command)")
    func twoProcessesStyle() async throws {
        try await withStore { store, path in
            let other = try UserStore(path: path)
            try await other.add(name: "bob", passwordHash: "h")
            #expect(try await store.user(named: "bob")?.passwordHash == "h")
            try await store.setPasswordHash(name: "bob", hash: "h2")
            #expect(try await other.user(named: "bob")?.passwordHash == "h2")
        }
    }

    @Test("opening an unusable path fails with a storage error")
    func unusablePath() async throws {
        try await withTemporaryDirectory { directory in
            // The parent "directory" is a regular file.
            let file = "\(directory)/file"
            _ = FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
            #expect {
                _ = try UserStore(path: "\(file)/users.sqlite")
            } throws: { error in
                guard case .storage(let message) = error as? UserStoreError else {
                    return false
                }
                return message.contains("users.sqlite")
            }
            // Not a database at all.
            _ = FileManager.default.createFile(
                atPath: "\(directory)/junk",
                contents: Data(repeating: 0x41, count: 4096)
            )
            #expect(throws: UserStoreError.self) {
                _ = try UserStore(path: "\(directory)/junk")
            }
        }
    }
}
