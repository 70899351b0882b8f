import FerryProtocol
import NIOCore
import Testing

@testable import FerryServer

@Suite("abuse guard rules")
struct AbuseGuardTests {
    static func guardWith(ban: Int = 4, rate: Double = 0, burst: Double = 0) -> AbuseGuard {
        AbuseGuard(
            limits: .init(
                maximumConnections: 100,
                maximumConnectionsPerAddress: 100,
                maximumSessionsPerUser: 10,
                failedLoginDelay: .milliseconds(100),
                maximumFailedLoginDelay: .seconds(2),
                failuresBeforeBan: ban,
                banDuration: .seconds(60),
                failureWindow: .seconds(100),
                connectionRate: rate,
                connectionBurst: burst
            )
        )
    }

    let address = ClientAddress(key: "192.0.2.1")

    @Test("a successful login does not reset the address's count of failures")
    func successKeepsAddressCount() {
        let abuse = Self.guardWith(ban: 4)
        let now = NIODeadline.now()
        for _ in 0..<3 { _ = abuse.loginFailed(from: self.address, user: "victim", now: now) }
        abuse.loginSucceeded(from: self.address, user: "attacker", now: now)
        #expect(abuse.loginFailed(from: self.address, user: "victim", now: now).banned)
        #expect(abuse.admitConnection(from: self.address, now: now) != .admitted)
    }

    @Test("the delay grows per (address, user) and a success clears only that pair")
    func delayPerPair() {
        let abuse = Self.guardWith(ban: 100)
        let now = NIODeadline.now()
        #expect(abuse.loginFailed(from: self.address, user: "a", now: now).delay == .milliseconds(100))
        #expect(abuse.loginFailed(from: self.address, user: "a", now: now).delay == .milliseconds(200))
        #expect(abuse.loginFailed(from: self.address, user: "b", now: now).delay == .milliseconds(100))
        abuse.loginSucceeded(from: self.address, user: "a", now: now)
        #expect(abuse.loginFailed(from: self.address, user: "a", now: now).delay == .milliseconds(100))
    }

    @Test("failures drain: the ban threshold per failure window")
    func decay() {
        let abuse = Self.guardWith(ban: 4)
        let start = NIODeadline.now()
        for _ in 0..<3 { _ = abuse.loginFailed(from: self.address, user: "u", now: start) }
        // 100 s window, 4 per window: after 50 s two have drained (1 left); two more make 3, the third more bans.
        #expect(!abuse.loginFailed(from: self.address, user: "u", now: start + .seconds(50)).banned)
        #expect(!abuse.loginFailed(from: self.address, user: "u", now: start + .seconds(50)).banned)
        #expect(abuse.loginFailed(from: self.address, user: "u", now: start + .seconds(50)).banned)
    }

    @Test("new connections per second are limited per address, except for exempt (local) clients")
    func connectionRate() {
        let abuse = Self.guardWith(rate: 2, burst: 4)
        let now = NIODeadline.now()
        var admitted = 0
        for _ in 0..<10 where abuse.admitConnection(from: self.address, now: now) == .admitted { admitted += 1 }
        #expect(admitted == 4)
        #expect(abuse.admitConnection(from: self.address, rateLimited: false, now: now) == .admitted)
        // One second later two more are allowed.
        #expect(abuse.admitConnection(from: self.address, now: now + .seconds(1)) == .admitted)
        #expect(abuse.admitConnection(from: self.address, now: now + .seconds(1)) == .admitted)
        #expect(abuse.admitConnection(from: self.address, now: now + .seconds(1)) != .admitted)
        #expect(abuse.admitConnection(from: ClientAddress(key: "192.0.2.2"), now: now) == .admitted)
    }
}
