import FerryCLI
import Testing

private let MiB: Int64 = 1 << 20
private let GiB: Int64 = 1 << 30
private let TiB: Int64 = 1 << 40

@Suite("ProgressLine")
struct ProgressLineTests {
    @Test("a full line on a wide terminal")
    func fullLine() {
        let line = ProgressLine.render(
            name: "report.pdf",
            done: 45 * MiB,
            total: 100 * MiB,
            bytesPerSecond: 12.5 * Double(MiB),
            elapsed: 3.6,
            width: 100,
            spinnerFrame: 0
        )
        #expect(line.hasPrefix("report.pdf   45% [####"))
        #expect(line.contains("]  45.0 MiB/100.0 MiB"))
        #expect(line.contains("12.5 MiB/s"))
        #expect(line.hasSuffix("ETA 0:05"))
        #expect(ProgressLine.displayWidth(line) <= 100)
        // The bar takes the room that is left, and is proportional.
        let bar = line.drop(while: { $0 != "[" }).prefix(while: { $0 != "]" }).dropFirst()
        #expect(bar.count >= 10)
        let filled = bar.filter { $0 == "#" }.count
        #expect(filled == Int(Double(bar.count) * 0.45))
    }

    @Test("the line never exceeds the width, known and unknown totals, ASCII and Unicode names")
    func widths() {
        let names = [
            "a", "report.pdf", String(repeating: "x", count: 300), "ünïcödé-fïlé-nämé-wïth-äccents.tar.gz",
            "日本語のとても長いファイル名です.txt", "emoji-😀😀😀😀😀😀.png", "",
        ]
        let cases: [(Int64, Int64?, Double?)] = [
            (0, 0, nil), (0, 100, 0), (50, 100, 0.001), (45 * MiB, 100 * MiB, 45.6 * Double(MiB)),
            (TiB * 3, TiB * 5, 1e12), (5, nil, nil), (GiB, nil, 1e9), (200, 100, 10),
            (Int64.max / 2, Int64.max, 1.0),
        ]
        for width in 1...200 {
            for name in names {
                for (done, total, rate) in cases {
                    for ascii in [false, true] {
                        let line = ProgressLine.render(
                            name: name,
                            done: done,
                            total: total,
                            bytesPerSecond: rate,
                            elapsed: 12,
                            width: width,
                            spinnerFrame: width,
                            asciiOnly: ascii
                        )
                        #expect(
                            ProgressLine.displayWidth(line) <= width,
                            "width \(width), name \(name), done \(done), total \(String(describing: total)): \(line)"
                        )
                        if ascii, name.allSatisfy(\.isASCII) {
                            #expect(line.allSatisfy { $0.isASCII })
                            #expect(line.count <= width)
                        }
                    }
                }
            }
        }
    }

    @Test("a long name leaves room for the bar on a wide terminal")
    func longName() {
        let line = ProgressLine.render(
            name: String(repeating: "n", count: 300) + ".iso",
            done: 1,
            total: 2,
            bytesPerSecond: 1,
            elapsed: 1,
            width: 150,
            spinnerFrame: 0
        )
        #expect(ProgressLine.displayWidth(line) <= 150)
        let bar = line.drop(while: { $0 != "[" }).prefix(while: { $0 != "]" })
        #expect(bar.count >= 30)
        #expect(line.contains("n…n") && line.contains("n.iso   50%"))
    }

    @Test("narrow terminals drop the ETA, then the rate, then the bar, then the sizes")
    func dropping() {
        func line(_ width: Int) -> String {
            ProgressLine.render(
                name: "file.bin",
                done: 50 * MiB,
                total: 100 * MiB,
                bytesPerSecond: Double(MiB),
                elapsed: 1,
                width: width,
                spinnerFrame: 0
            )
        }
        #expect(line(200).contains("ETA"))
        #expect(!line(60).contains("ETA") && line(60).contains("MiB/s") && line(60).contains("["))
        #expect(!line(50).contains("MiB/s") && line(50).contains("[") && line(50).contains("50.0 MiB/100.0 MiB"))
        #expect(!line(40).contains("[") && line(40).contains("50.0 MiB/100.0 MiB"))
        #expect(line(20) == "file.bin   50%")
        #expect(line(12) == "fi…bin   50%")
        #expect(line(3) == "f…n")
    }

    @Test("unknown totals show a spinner, the bytes, the rate and the elapsed time")
    func unknownTotal() {
        let frames = (0..<10).map { frame in
            ProgressLine.render(
                name: "stream",
                done: 3 * MiB,
                total: nil,
                bytesPerSecond: 1.5 * Double(MiB),
                elapsed: 62,
                width: 80,
                spinnerFrame: frame
            )
        }
        #expect(frames[0] == "stream  ⠋ 3.0 MiB   1.5 MiB/s  1:02")
        #expect(frames[1].hasPrefix("stream  ⠙ "))
        #expect(Set(frames).count == 10)
        #expect(!frames[0].contains("%"))
        #expect(!frames[0].contains("ETA"))
        let ascii = ProgressLine.render(
            name: "stream",
            done: 0,
            total: nil,
            bytesPerSecond: nil,
            elapsed: 0,
            width: 80,
            spinnerFrame: 3,
            asciiOnly: true
        )
        #expect(ascii == "stream  \\ 0 B      -- B/s  0:00")
        // Negative frame numbers still pick a frame.
        #expect(
            ProgressLine.render(
                name: "s",
                done: 0,
                total: nil,
                bytesPerSecond: nil,
                elapsed: 0,
                width: 80,
                spinnerFrame: -1,
                asciiOnly: true
            ).hasPrefix("s  \\")
        )
    }

    @Test("zero bytes, empty files, finished files and more than the total")
    func edges() {
        let empty = ProgressLine.render(
            name: "empty",
            done: 0,
            total: 0,
            bytesPerSecond: nil,
            elapsed: 0,
            width: 80,
            spinnerFrame: 0
        )
        #expect(empty.contains("100%"))
        #expect(empty.contains("0 B/0 B"))
        #expect(empty.contains("ETA 0:00"))
        let start = ProgressLine.render(
            name: "f",
            done: 0,
            total: 10,
            bytesPerSecond: nil,
            elapsed: 0,
            width: 80,
            spinnerFrame: 0
        )
        #expect(start.contains("  0% [----------"))
        #expect(start.contains("ETA --:--"))
        #expect(start.contains("-- B/s"))
        let over = ProgressLine.render(
            name: "f",
            done: 20,
            total: 10,
            bytesPerSecond: 1,
            elapsed: 0,
            width: 80,
            spinnerFrame: 0
        )
        #expect(over.contains("100% [##########"))
        #expect(!over.contains("-]"))
    }

    @Test("huge sizes are shown in TiB and beyond")
    func hugeSizes() {
        let line = ProgressLine.render(
            name: "disk.img",
            done: 3 * TiB + TiB / 2,
            total: 10 * TiB,
            bytesPerSecond: 1.25 * Double(GiB),
            elapsed: 100,
            width: 120,
            spinnerFrame: 0
        )
        #expect(line.contains("3.5 TiB/10.0 TiB"))
        #expect(line.contains("1.3 GiB/s"))
        #expect(line.contains(" 35% "))
        #expect(line.hasSuffix("ETA 1:28:45"))
        #expect(
            ProgressLine.render(
                name: "x",
                done: 0,
                total: Int64.max,
                bytesPerSecond: nil,
                elapsed: 0,
                width: 120,
                spinnerFrame: 0
            ).contains("8.0 EiB")
        )
    }

    @Test("rates: none, zero, tiny, large")
    func rates() {
        #expect(ProgressLine.rate(nil) == "-- B/s")
        #expect(ProgressLine.rate(.nan) == "-- B/s")
        #expect(ProgressLine.rate(-1) == "-- B/s")
        #expect(ProgressLine.rate(0) == "0 B/s")
        #expect(ProgressLine.rate(0.2) == "0 B/s")
        #expect(ProgressLine.rate(512) == "512 B/s")
        #expect(ProgressLine.rate(45.6 * 1_048_576) == "45.6 MiB/s")
        #expect(ProgressLine.rate(3e12) == "2.7 TiB/s")
        #expect(ProgressLine.rate(.infinity) == "-- B/s")
        #expect(ProgressLine.rate(1e300) == "7.8 EiB/s")
    }

    @Test("ETA and clock formatting")
    func etaFormatting() {
        #expect(ProgressLine.eta(done: 0, total: 12, bytesPerSecond: 1) == "ETA 0:12")
        #expect(ProgressLine.eta(done: 0, total: 3723, bytesPerSecond: 1) == "ETA 1:02:03")
        #expect(ProgressLine.eta(done: 0, total: 10, bytesPerSecond: 3) == "ETA 0:04")  // rounded up
        #expect(ProgressLine.eta(done: 5, total: 10, bytesPerSecond: 0) == "ETA --:--")
        #expect(ProgressLine.eta(done: 5, total: 10, bytesPerSecond: nil) == "ETA --:--")
        #expect(ProgressLine.eta(done: 10, total: 10, bytesPerSecond: nil) == "ETA 0:00")
        #expect(ProgressLine.eta(done: 0, total: TiB, bytesPerSecond: 1) == "ETA >99h")
        #expect(ProgressLine.clock(0) == "0:00")
        #expect(ProgressLine.clock(59.9) == "0:59")
        #expect(ProgressLine.clock(600) == "10:00")
        #expect(ProgressLine.clock(36_000) == "10:00:00")
        #expect(ProgressLine.clock(-5) == "0:00")
        #expect(ProgressLine.clock(.infinity) == "0:00")
        #expect(ProgressLine.duration(4.2) == "4.2s")
        #expect(ProgressLine.duration(0) == "0.0s")
        #expect(ProgressLine.duration(59.9) == "59.9s")
        #expect(ProgressLine.duration(62) == "1m02s")
        #expect(ProgressLine.duration(3723) == "1h02m03s")
    }

    @Test("the finished line")
    func finished() {
        #expect(
            ProgressLine.finished(name: "report.pdf", bytes: GiB, seconds: 4.2, verification: "sha256 verified")
                == "report.pdf  1.0 GiB in 4.2s (243.8 MiB/s), sha256 verified"
        )
        #expect(ProgressLine.finished(name: "a", bytes: 0, seconds: 0) == "a  0 B in 0.0s")
        #expect(
            ProgressLine.finished(name: "a", bytes: 100, seconds: 2, verification: "") == "a  100 B in 2.0s (50 B/s)"
        )
    }

    @Test("names are truncated in the middle by display width, keeping both ends")
    func truncation() {
        #expect(ProgressLine.truncateMiddle("abcdefghij", to: 10) == "abcdefghij")
        #expect(ProgressLine.truncateMiddle("abcdefghij", to: 7) == "abc…hij")
        #expect(ProgressLine.truncateMiddle("abcdefghij", to: 6) == "ab…hij")
        #expect(ProgressLine.truncateMiddle("abcdefghij", to: 1) == "…")
        #expect(ProgressLine.truncateMiddle("abcdefghij", to: 0) == "")
        #expect(ProgressLine.truncateMiddle("abcdefghij", to: 5, ellipsis: "...") == "a...j")
        #expect(ProgressLine.truncateMiddle("abcdefghij", to: 2, ellipsis: "...") == "..")
        // Wide characters count two columns and are never split.
        let japanese = "日本語のファイル名.txt"
        #expect(ProgressLine.displayWidth(japanese) == 22)
        let short = ProgressLine.truncateMiddle(japanese, to: 10)
        #expect(ProgressLine.displayWidth(short) <= 10)
        #expect(short.hasPrefix("日本"))
        #expect(short.hasSuffix(".txt"))
        // Combining characters stay with their base.
        let composed = "e\u{301}" + String(repeating: "e\u{301}", count: 20)
        #expect(ProgressLine.displayWidth(composed) == 21)
        #expect(ProgressLine.truncateMiddle(composed, to: 5).count == 5)
        #expect(ProgressLine.displayWidth("😀") == 2)
        #expect(ProgressLine.displayWidth("⠋") == 1)
        #expect(ProgressLine.displayWidth("…") == 1)
    }

    @Test("control characters in names cannot reach the terminal")
    func sanitizing() {
        let hostile = "evil\u{1B}[2J\r\nname\u{7}\u{9B}\u{202E}txt"
        let line = ProgressLine.render(
            name: hostile,
            done: 1,
            total: 2,
            bytesPerSecond: nil,
            elapsed: 0,
            width: 100,
            spinnerFrame: 0
        )
        #expect(!line.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
        #expect(line.hasPrefix("evil?[2J?name???txt"))
        #expect(ProgressLine.finished(name: "a\nb", bytes: 1, seconds: 1).hasPrefix("a?b"))
    }

    @Test("plain lines have no escape codes or bar")
    func plain() {
        #expect(
            ProgressLine.renderPlain(
                name: "f",
                done: 45 * MiB,
                total: 100 * MiB,
                bytesPerSecond: Double(MiB),
                elapsed: 1
            )
                == "f: 45% (45.0 MiB/100.0 MiB), 1.0 MiB/s, ETA 0:55"
        )
        #expect(
            ProgressLine.renderPlain(name: "f", done: MiB, total: nil, bytesPerSecond: nil, elapsed: 75)
                == "f: 1.0 MiB, -- B/s, 1:15 elapsed"
        )
    }

    @Test("bars")
    func bars() {
        #expect(ProgressLine.bar(fraction: 0.5, width: 10) == "[#####-----]")
        #expect(ProgressLine.bar(fraction: 0, width: 4) == "[----]")
        #expect(ProgressLine.bar(fraction: 1, width: 4) == "[####]")
        #expect(ProgressLine.bar(fraction: 2, width: 4) == "[####]")
        #expect(ProgressLine.bar(fraction: .nan, width: 4) == "[----]")
        #expect(ProgressLine.bar(fraction: 0.5, width: -3) == "[]")
    }
}
