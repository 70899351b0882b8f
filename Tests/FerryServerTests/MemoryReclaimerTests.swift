import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing

@testable import FerryServer

@Suite("memory reclaimer")
struct MemoryReclaimerTests {
    func make(delay: TimeAmount? = .seconds(2)) -> (EmbeddedEventLoop, MemoryReclaimer, NIOLockedValueBox<Int>) {
        let loop = EmbeddedEventLoop()
        let trims = NIOLockedValueBox(0)
        let reclaimer = MemoryReclaimer(eventLoop: loop, delay: delay) { trims.withLockedValue { $0 += 1 } }
        return (loop, reclaimer, trims)
    }

    @Test("trims once, after the last transfer ends and the delay passes quietly")
    func trimsAfterQuiet() {
        let (loop, reclaimer, trims) = self.make()
        reclaimer.transferStarted()
        reclaimer.transferStarted()
        reclaimer.transferEnded()
        loop.advanceTime(by: .seconds(5))
        #expect(trims.withLockedValue { $0 } == 0, "one transfer still runs")
        reclaimer.transferEnded()
        loop.advanceTime(by: .seconds(1))
        #expect(trims.withLockedValue { $0 } == 0, "before the delay")
        loop.advanceTime(by: .seconds(1))
        #expect(trims.withLockedValue { $0 } == 1)
        loop.advanceTime(by: .seconds(10))
        #expect(trims.withLockedValue { $0 } == 1)
    }

    @Test("a transfer during the delay postpones the trim to a later quiet moment")
    func postponed() {
        let (loop, reclaimer, trims) = self.make()
        reclaimer.transferStarted()
        reclaimer.transferEnded()
        loop.advanceTime(by: .seconds(1))
        reclaimer.transferStarted()
        reclaimer.transferEnded()
        loop.advanceTime(by: .seconds(1))
        #expect(trims.withLockedValue { $0 } == 0, "the first quiet moment was interrupted")
        loop.advanceTime(by: .seconds(1))
        #expect(trims.withLockedValue { $0 } == 0, "the quiet moment is counted again from the timer")
        loop.advanceTime(by: .seconds(1))
        #expect(trims.withLockedValue { $0 } == 1)
    }

    @Test("many sessions closing make one trim, after they stop")
    func sessions() {
        let (loop, reclaimer, trims) = self.make()
        for _ in 0..<1000 { reclaimer.sessionEnded() }
        loop.advanceTime(by: .seconds(1))
        reclaimer.sessionEnded()
        loop.advanceTime(by: .seconds(1))
        #expect(trims.withLockedValue { $0 } == 0, "a session ended during the delay")
        loop.advanceTime(by: .seconds(2))
        #expect(trims.withLockedValue { $0 } == 1)
        loop.advanceTime(by: .seconds(60))
        #expect(trims.withLockedValue { $0 } == 1)
    }

    @Test("no delay configured: never trims")
    func disabled() {
        let (loop, reclaimer, trims) = self.make(delay: nil)
        reclaimer.transferStarted()
        reclaimer.transferEnded()
        loop.advanceTime(by: .seconds(60))
        #expect(trims.withLockedValue { $0 } == 0)
    }
}
