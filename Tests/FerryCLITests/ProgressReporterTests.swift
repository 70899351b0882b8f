import FerryCLI
import Foundation
import Testing

/// A clock the test moves by hand.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var time: Double

    init(_ start: Double = 1000) {
        self.time = start
    }

    var now: Double {
        self.lock.lock()
        defer { self.lock.unlock() }
        return self.time
    }

    func advance(_ seconds: Double) {
        self.lock.lock()
        defer { self.lock.unlock() }
        self.time += seconds
    }

    var function: @Sendable () -> Double { { self.now } }
}

private let MiB: Int64 = 1 << 20

@Suite("ProgressReporter")
struct ProgressReporterTests {
    @Test("10 updates in 50 ms give one redraw; the next one after 100 ms gives another")
    func throttling() {
        let clock = ManualClock()
        let output = StringOutput()
        let reporter = ProgressReporter(
            name: "file",
            total: 1000,
            mode: .bar,
            output: output,
            width: { 80 },
            clock: clock.function
        )
        for step in 1...10 {
            clock.advance(0.005)
            reporter.update(done: Int64(step * 10))
        }
        #expect(reporter.redrawCount == 1)
        #expect(output.writeCount == 1)
        clock.advance(0.1)
        reporter.update(done: 200)
        #expect(reporter.redrawCount == 2)
        let text = output.text
        #expect(text.hasPrefix("\r"))
        #expect(text.contains("\u{1B}[K"))
        // Each redraw fits in width - 1 columns.
        for frame in text.split(separator: "\r") {
            let line = frame.replacingOccurrences(of: "\u{1B}[K", with: "")
            #expect(ProgressLine.displayWidth(line) <= 79)
        }

        reporter.finish(verification: "sha256 verified")
        #expect(output.text.hasSuffix("\u{1B}[K\n"))
        #expect(output.text.contains("\rfile  200 B in 0."))
        #expect(output.text.contains(", sha256 verified"))
        // Nothing after the end.
        let count = output.writeCount
        reporter.update(done: 300)
        reporter.fail("late")
        reporter.finish()
        #expect(output.writeCount == count)
    }

    @Test("the rate is a moving average over the last two seconds")
    func rate() throws {
        let clock = ManualClock()
        let reporter = ProgressReporter(
            name: "f",
            total: nil,
            mode: .quiet,
            output: StringOutput(),
            width: { 80 },
            clock: clock.function
        )
        #expect(reporter.bytesPerSecond == nil)
        // 10 s at 1 MiB/s, then 3 s at 4 MiB/s: the average forgets the slow part.
        var done: Int64 = 0
        for _ in 0..<100 {
            clock.advance(0.1)
            done += MiB / 10
            reporter.update(done: done)
        }
        let slow = try #require(reporter.bytesPerSecond)
        #expect(abs(slow - Double(MiB)) / Double(MiB) < 0.05)
        for _ in 0..<30 {
            clock.advance(0.1)
            done += 4 * MiB / 10
            reporter.update(done: done)
        }
        let fast = try #require(reporter.bytesPerSecond)
        #expect(abs(fast - 4 * Double(MiB)) / Double(MiB) < 0.3)
    }

    @Test("rate meter: coalescing, restart, stalls")
    func rateMeter() throws {
        var meter = RateMeter(window: 2)
        meter.add(time: 0, bytes: 0)
        #expect(meter.bytesPerSecond == nil)
        // A burst of updates 1 ms apart stays a short history and gives the right average.
        for index in 1...10_000 {
            meter.add(time: Double(index) * 0.001, bytes: Int64(index) * 1000)
        }
        let rate = try #require(meter.bytesPerSecond)
        #expect(abs(rate - 1_000_000) < 10_000)
        // A stall: no progress for 3 s.
        meter.add(time: 13, bytes: 10_000_000)
        #expect(try #require(meter.bytesPerSecond) < 1_000)
        // A restart (fewer bytes than before) starts over.
        meter.add(time: 14, bytes: 5)
        #expect(meter.bytesPerSecond == nil)
        meter.reset()
        #expect(meter.bytesPerSecond == nil)
    }

    @Test("plain mode prints a line every N seconds without escape codes")
    func plainMode() {
        let clock = ManualClock()
        let output = StringOutput()
        let reporter = ProgressReporter(
            name: "backup.tar",
            total: 100 * MiB,
            mode: .plain(every: 5),
            output: output,
            width: { 80 },
            clock: clock.function
        )
        for step in 1...120 {
            clock.advance(0.1)
            reporter.update(done: Int64(step) * MiB / 2)
        }
        reporter.finish()
        let text = output.text
        #expect(!text.contains("\u{1B}"))
        #expect(!text.contains("\r"))
        let lines = text.split(separator: "\n")
        #expect(lines.count == 3)  // at 5 s, at 10 s, and the final line
        #expect(lines[0].hasPrefix("backup.tar: 25% (25.0 MiB/100.0 MiB), 5.0 MiB/s, ETA 0:15"))
        #expect(lines[2].hasPrefix("backup.tar  60.0 MiB in 12.0s (5.0 MiB/s)"))
    }

    @Test("quiet mode prints nothing, whatever happens")
    func quietMode() {
        let output = StringOutput()
        let reporter = ProgressReporter(name: "f", total: 10, mode: .quiet, output: output, width: { 80 })
        reporter.update(done: 5)
        reporter.finish(verification: "ok")
        reporter.fail("boom")
        let failing = ProgressReporter(name: "f", total: 10, mode: .quiet, output: output, width: { 80 })
        failing.fail("boom")
        #expect(output.text.isEmpty)
        #expect(output.writeCount == 0)
    }

    @Test("failure replaces the bar with name: message")
    func failure() {
        let output = StringOutput()
        let reporter = ProgressReporter(name: "f.bin", total: 10, mode: .bar, output: output, width: { 80 })
        reporter.update(done: 5)
        reporter.fail("550 Permission denied")
        #expect(output.text.hasSuffix("\rf.bin: 550 Permission denied\u{1B}[K\n"))
        let plain = StringOutput()
        let plainReporter = ProgressReporter(name: "f.bin", total: 10, mode: .plain(every: 1), output: plain)
        plainReporter.fail("gone")
        #expect(plain.text == "f.bin: gone\n")
    }

    @Test("a total given later replaces an unknown one")
    func lateTotal() {
        let clock = ManualClock()
        let output = StringOutput()
        let reporter = ProgressReporter(
            name: "f",
            total: nil,
            mode: .bar,
            output: output,
            width: { 80 },
            clock: clock.function,
            asciiOnly: true
        )
        reporter.update(done: 5)
        #expect(!output.text.contains("%"))
        clock.advance(1)
        reporter.update(done: 5, total: 10)
        #expect(output.text.contains(" 50% "))
        #expect(output.text.allSatisfy { $0.isASCII })
    }

    @Test("the automatic mode")
    func automaticMode() {
        #expect(ProgressMode.automatic(quiet: true) == .quiet)
        // The tests' stderr is a pipe or a file, or TERM=dumb makes it plain anyway.
        #expect(ProgressMode.automatic(quiet: false, environment: ["TERM": "dumb"]) == .plain(every: 10))
    }

    @Test("concurrent updates from many tasks are safe")
    func concurrent() async {
        let output = StringOutput()
        let reporter = ProgressReporter(name: "f", total: 1_000_000, mode: .bar, output: output, width: { 80 })
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for step in 0..<1000 { reporter.update(done: Int64(task * 1000 + step)) }
                }
            }
        }
        reporter.finish()
        #expect(output.text.hasSuffix("\n"))
        #expect(reporter.redrawCount >= 1)
    }
}

@Suite("MirrorProgress")
struct MirrorProgressTests {
    @Test("an overall line plus one line per active transfer, redrawn in place with cursor-up")
    func block() {
        let clock = ManualClock()
        let output = StringOutput()
        let mirror = MirrorProgress(
            totalFiles: 3,
            totalBytes: 300,
            mode: .bar,
            output: output,
            width: { 80 },
            clock: clock.function
        )
        mirror.start("a.txt", total: 100)
        #expect(output.text.hasPrefix("\r0/3 files    0% [---"))
        #expect(output.text.contains("]   0 B/300 B      -- B/s  ETA --:--\n  a.txt    0% [---"))
        #expect(!output.text.contains("\u{1B}"))
        mirror.start("b.txt", total: 100)
        // The second draw moves up one line (the overall line) and clears to the end of the screen.
        #expect(output.text.contains("\r\u{1B}[1A\u{1B}[J0/3 files"))
        clock.advance(1)
        mirror.update("a.txt", done: 50)
        #expect(output.text.contains("\r\u{1B}[2A\u{1B}[J0/3 files"))
        clock.advance(1)
        mirror.finish("a.txt", verification: "sha256 verified")
        // The finished line is printed above the block, which is drawn again below it.
        #expect(
            output.text.contains("\u{1B}[2A\u{1B}[Ja.txt  50 B in 2.0s (25 B/s), sha256 verified\u{1B}[K\n\r1/3 files")
        )
        mirror.fail("b.txt", message: "550 No such file")
        #expect(output.text.contains("\u{1B}[1A\u{1B}[Jb.txt: 550 No such file\u{1B}[K\n\r2/3 files"))
        clock.advance(1)
        mirror.end()
        #expect(output.text.hasSuffix("\r\u{1B}[J1 file, 50 B in 3.0s (17 B/s), 1 failed\n"))
        // Every drawn line fits the width.
        for line in output.text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            var visible = String(line)
            for code in ["\u{1B}[K", "\u{1B}[J", "\u{1B}[1A", "\u{1B}[2A"] {
                visible = visible.replacingOccurrences(of: code, with: "")
            }
            #expect(ProgressLine.displayWidth(visible) <= 79)
        }
    }

    @Test("more transfers than lines are summed up; updates are throttled")
    func manyTransfers() {
        let clock = ManualClock()
        let output = StringOutput()
        let mirror = MirrorProgress(
            totalFiles: 10,
            totalBytes: nil,
            mode: .bar,
            output: output,
            width: { 60 },
            clock: clock.function,
            asciiOnly: true,
            maximumActiveLines: 2
        )
        for index in 0..<5 { mirror.start("f\(index)", total: nil) }
        #expect(output.text.hasSuffix("...and 3 more") || output.text.hasSuffix("... and 3 more"))
        let count = output.writeCount
        clock.advance(0.1)
        for step in 0..<10 {
            mirror.update("f0", done: Int64(step))
            clock.advance(0.005)
        }
        #expect(output.writeCount == count + 1)
        #expect(output.text.allSatisfy { $0.isASCII })
    }

    @Test("plain mode prints finished files and a periodic overall line; quiet prints nothing")
    func plainAndQuiet() {
        let clock = ManualClock()
        let output = StringOutput()
        let mirror = MirrorProgress(
            totalFiles: 2,
            totalBytes: 20,
            mode: .plain(every: 5),
            output: output,
            width: { 80 },
            clock: clock.function
        )
        mirror.start("a", total: 10)
        clock.advance(6)
        mirror.update("a", done: 10)
        mirror.finish("a")
        mirror.end()
        #expect(!output.text.contains("\u{1B}"))
        #expect(output.text.split(separator: "\n").count == 3)
        #expect(output.text.hasPrefix("0/2 files: 50% (10 B/20 B)"))

        let quiet = StringOutput()
        let silent = MirrorProgress(totalFiles: 1, totalBytes: 1, mode: .quiet, output: quiet, width: { 80 })
        silent.start("a", total: 1)
        silent.update("a", done: 1)
        silent.fail("a", message: "x")
        silent.end()
        #expect(quiet.text.isEmpty)
    }
}
