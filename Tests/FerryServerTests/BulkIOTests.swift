import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import FerryServer

@Suite("bulk I/O threads")
struct BulkIOTests {
    @Test("one user cannot hold more than its share; others still get theirs; a cancelled body is told")
    func perUserLimit() async throws {
        let bulk = BulkIO(threads: 3, total: 3, perUser: 2)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let release = NIOLockedValueBox(false)
        let started = NIOLockedValueBox(0)
        @Sendable func hold(_ cancelled: @Sendable () -> Bool) -> Bool {
            started.withLockedValue { $0 += 1 }
            while !release.withLockedValue({ $0 }) && !cancelled() { usleep(1000) }
            return cancelled()
        }
        let first = Task { try await bulk.run(user: "a", eventLoop: loop, hold) }
        let second = Task { try await bulk.run(user: "a", eventLoop: loop, hold) }
        while started.withLockedValue({ $0 }) < 2 { try await Task.sleep(for: .milliseconds(5)) }
        await #expect(throws: BulkIOBusy.self) { try await bulk.run(user: "a", eventLoop: loop, hold) }
        let other = Task { try await bulk.run(user: "b", eventLoop: loop, hold) }
        while started.withLockedValue({ $0 }) < 3 { try await Task.sleep(for: .milliseconds(5)) }
        // All three threads are taken: the total limit refuses a fourth user too.
        await #expect(throws: BulkIOBusy.self) { try await bulk.run(user: "c", eventLoop: loop, hold) }
        first.cancel()
        #expect(try await first.value == true)
        release.withLockedValue { $0 = true }
        #expect(try await second.value == false)
        #expect(try await other.value == false)
        // Once done, the user may run again.
        #expect(try await bulk.run(user: "a", eventLoop: loop) { _ in 42 } == 42)
        await bulk.shutdown()
    }
}
