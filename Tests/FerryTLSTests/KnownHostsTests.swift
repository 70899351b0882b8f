import FerryTLS
import Foundation
import Testing

private func fingerprint(_ seed: UInt8) -> String {
    ServerCertificate.fingerprint(ofDER: [seed, 1, 2, 3])
}

private func mode(_ path: String) throws -> Int {
    try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
}

@Suite("KnownHostsTests")
struct KnownHostsTests {
    @Test("remember, save and load give the same verdicts; the directory is 0700 and the file 0600")
    func roundTrip() async throws {
        try await withTemporaryDirectory { base in
            let path = base + "/config/ferry/known_hosts"
            var hosts = try KnownHosts.load(path: path)
            #expect(hosts.entries.isEmpty)
            #expect(hosts.check(host: "ftp.example.com", port: 21, fingerprint: fingerprint(1)) == .unknown)

            hosts.remember(host: "ftp.example.com", port: 21, fingerprint: fingerprint(1))
            #expect(hosts.check(host: "ftp.example.com", port: 21, fingerprint: fingerprint(1)) == .trusted)
            try hosts.save()

            let loaded = try KnownHosts.load(path: path)
            #expect(loaded.check(host: "ftp.example.com", port: 21, fingerprint: fingerprint(1)) == .trusted)
            #expect(loaded.entries.count == 1)
            #expect(try mode(base + "/config/ferry") == 0o700)
            #expect(try mode(base + "/config") == 0o700)
            #expect(try mode(path) == 0o600)
            #expect(try FileManager.default.contentsOfDirectory(atPath: base + "/config/ferry") == ["known_hosts"])
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.contains("ftp.example.com:21 " + fingerprint(1) + "\n"))
        }
    }

    @Test("another certificate is a mismatch naming the remembered fingerprint; remember replaces it")
    func mismatch() throws {
        var hosts = KnownHosts(path: "/nonexistent/known_hosts")
        hosts.remember(host: "host", port: 21, fingerprint: fingerprint(1))
        #expect(hosts.check(host: "host", port: 21, fingerprint: fingerprint(2)) == .mismatch(expected: fingerprint(1)))
        hosts.remember(host: "host", port: 21, fingerprint: fingerprint(2))
        #expect(hosts.check(host: "host", port: 21, fingerprint: fingerprint(2)) == .trusted)
        #expect(hosts.check(host: "host", port: 21, fingerprint: fingerprint(1)) == .mismatch(expected: fingerprint(2)))
        #expect(hosts.entries.count == 1)
        hosts.forget(host: "HOST", port: 21)
        #expect(hosts.check(host: "host", port: 21, fingerprint: fingerprint(2)) == .unknown)
    }

    @Test("hosts compare case-insensitively; fingerprints in any accepted form")
    func caseInsensitive() {
        var hosts = KnownHosts(path: "/nonexistent/known_hosts")
        hosts.remember(host: "FTP.Example.COM", port: 990, fingerprint: fingerprint(3).lowercased())
        #expect(hosts.check(host: "ftp.example.com", port: 990, fingerprint: fingerprint(3)) == .trusted)
        let bare = fingerprint(3).replacingOccurrences(of: ":", with: "").lowercased()
        #expect(hosts.check(host: "ftp.EXAMPLE.com", port: 990, fingerprint: "sha256:" + bare) == .trusted)
        #expect(hosts.entries.first?.host == "ftp.example.com")
        #expect(hosts.entries.first?.fingerprint == fingerprint(3))
    }

    @Test("the port is part of the key")
    func ports() {
        var hosts = KnownHosts(path: "/nonexistent/known_hosts")
        hosts.remember(host: "h", port: 21, fingerprint: fingerprint(1))
        hosts.remember(host: "h", port: 990, fingerprint: fingerprint(2))
        #expect(hosts.check(host: "h", port: 21, fingerprint: fingerprint(1)) == .trusted)
        #expect(hosts.check(host: "h", port: 990, fingerprint: fingerprint(2)) == .trusted)
        #expect(hosts.check(host: "h", port: 990, fingerprint: fingerprint(1)) == .mismatch(expected: fingerprint(2)))
        #expect(hosts.check(host: "h", port: 2121, fingerprint: fingerprint(1)) == .unknown)
    }

    @Test("IPv6 hosts are written in brackets and found with or without them")
    func ipv6() async throws {
        try await withTemporaryDirectory { base in
            let path = base + "/known_hosts"
            var hosts = KnownHosts(path: path)
            hosts.remember(host: "::1", port: 2121, fingerprint: fingerprint(4))
            hosts.remember(host: "[2001:DB8::1]", port: 21, fingerprint: fingerprint(5))
            try hosts.save()
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.contains("[::1]:2121 " + fingerprint(4)))
            #expect(text.contains("[2001:db8::1]:21 " + fingerprint(5)))
            let loaded = try KnownHosts.load(path: path)
            #expect(loaded.check(host: "[::1]", port: 2121, fingerprint: fingerprint(4)) == .trusted)
            #expect(loaded.check(host: "::1", port: 2121, fingerprint: fingerprint(4)) == .trusted)
            #expect(loaded.check(host: "2001:db8::1", port: 21, fingerprint: fingerprint(5)) == .trusted)
            #expect(KnownHosts.key(host: "::1", port: 21) == "[::1]:21")
            #expect(KnownHosts.key(host: "Example.org", port: 21) == "example.org:21")
        }
    }

    @Test("comments, blank lines and malformed lines are kept on save; malformed lines are ignored")
    func keepsOtherLines() async throws {
        try await withTemporaryDirectory { base in
            let path = base + "/known_hosts"
            let original = """
                # my servers
                a.example:21 \(fingerprint(1))

                this line is not understood
                b.example:notaport \(fingerprint(2))
                ::1:21 \(fingerprint(2))
                c.example:21 not-a-fingerprint
                d.example:21 \(fingerprint(3)) trailing comment

                """
            try original.write(toFile: path, atomically: false, encoding: .utf8)
            var hosts = try KnownHosts.load(path: path)
            #expect(hosts.entries.map(\.host) == ["a.example", "d.example"])
            #expect(hosts.check(host: "c.example", port: 21, fingerprint: fingerprint(1)) == .unknown)
            #expect(hosts.check(host: "d.example", port: 21, fingerprint: fingerprint(3)) == .trusted)

            hosts.remember(host: "e.example", port: 21, fingerprint: fingerprint(4))
            hosts.remember(host: "a.example", port: 21, fingerprint: fingerprint(5))
            try hosts.save()
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let expected =
                original.replacingOccurrences(
                    of: "a.example:21 \(fingerprint(1))",
                    with: "a.example:21 \(fingerprint(5))"
                ) + "e.example:21 \(fingerprint(4))\n"
            #expect(text == expected)
        }
    }

    @Test("a missing file loads empty; a new file starts with a comment; an unreadable path fails")
    func missingAndErrors() async throws {
        try await withTemporaryDirectory { base in
            let hosts = try KnownHosts.load(path: base + "/none/known_hosts")
            #expect(hosts.entries.isEmpty)
            // A directory where the file should be.
            try FileManager.default.createDirectory(atPath: base + "/dir", withIntermediateDirectories: false)
            #expect(throws: KnownHostsError.self) { try KnownHosts.load(path: base + "/dir") }
            // A file where the directory should be.
            try "x".write(toFile: base + "/file", atomically: false, encoding: .utf8)
            var blocked = KnownHosts(path: base + "/file/known_hosts")
            blocked.remember(host: "h", port: 21, fingerprint: fingerprint(1))
            #expect(throws: KnownHostsError.self) { try blocked.save() }

            var fresh = KnownHosts(path: base + "/new/known_hosts")
            fresh.remember(host: "h", port: 21, fingerprint: fingerprint(1))
            try fresh.save()
            let text = try String(contentsOfFile: base + "/new/known_hosts", encoding: .utf8)
            #expect(text.hasPrefix("#"))
            #expect(text.hasSuffix("h:21 \(fingerprint(1))\n"))
        }
    }

    @Test("saves apply changes to the file as it is on disk: concurrent savers keep each other's entries")
    func concurrentSaves() async throws {
        try await withTemporaryDirectory { base in
            let path = base + "/ferry/known_hosts"
            // Each task loads before any save, remembers its own host and saves, many times over.
            let snapshots = try (0..<8).map { index in
                var hosts = try KnownHosts.load(path: path)
                hosts.remember(host: "host\(index).example", port: 21, fingerprint: fingerprint(UInt8(index)))
                return hosts
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for hosts in snapshots {
                    group.addTask {
                        for _ in 0..<10 { try hosts.save() }
                    }
                }
                try await group.waitForAll()
            }
            let loaded = try KnownHosts.load(path: path)
            #expect(loaded.entries.count == 8)
            for index in 0..<8 {
                #expect(
                    loaded.check(host: "host\(index).example", port: 21, fingerprint: fingerprint(UInt8(index)))
                        == .trusted
                )
            }
            // No temporary files left behind.
            #expect(try FileManager.default.contentsOfDirectory(atPath: base + "/ferry") == ["known_hosts"])
        }
    }

    @Test("the default path honours XDG_CONFIG_HOME, else HOME")
    func defaultPath() {
        #expect(
            KnownHosts.defaultPath(environment: ["XDG_CONFIG_HOME": "/x/cfg", "HOME": "/home/u"])
                == "/x/cfg/ferry/known_hosts"
        )
        #expect(KnownHosts.defaultPath(environment: ["HOME": "/home/u"]) == "/home/u/.config/ferry/known_hosts")
        #expect(KnownHosts.defaultPath(environment: ["HOME": "/home/u/"]) == "/home/u/.config/ferry/known_hosts")
        // A relative XDG_CONFIG_HOME is invalid by the specification and ignored.
        #expect(
            KnownHosts.defaultPath(environment: ["XDG_CONFIG_HOME": "cfg", "HOME": "/home/u"])
                == "/home/u/.config/ferry/known_hosts"
        )
        #expect(KnownHosts.defaultPath(environment: [:]).hasSuffix("/.config/ferry/known_hosts"))
    }
}
