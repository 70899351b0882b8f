import FerryProtocol
import Foundation

// MARK: - Output

/// Where progress and prompts are written: standard error in production, a buffer in tests.
public protocol TextOutput: Sendable {
    func write(_ text: String)
}

/// Writes to the process's standard error, ignoring errors (a closed stderr must not stop a transfer).
public struct StandardErrorOutput: TextOutput {
    public init() {}

    public func write(_ text: String) {
        try? FileHandle.standardError.write(contentsOf: Data(text.utf8))
    }
}

/// Collects everything written, for tests.
public final class StringOutput: TextOutput, @unchecked Sendable {
    private let lock = NSLock()
    private var buffer = ""
    private var writes = 0

    public init() {}

    public func write(_ text: String) {
        self.lock.lock()
        defer { self.lock.unlock() }
        self.buffer += text
        self.writes += 1
    }

    /// Everything written so far.
    public var text: String {
        self.lock.lock()
        defer { self.lock.unlock() }
        return self.buffer
    }

    /// How many times ``write(_:)`` was called.
    public var writeCount: Int {
        self.lock.lock()
        defer { self.lock.unlock() }
        return self.writes
    }
}

// MARK: - Rendering

/// Pure formatting of progress lines. Every function is deterministic: the caller supplies the numbers and the width.
public enum ProgressLine {
    /// Braille spinner frames, for unknown sizes.
    public static let spinnerFrames: [String] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
    /// The spinner when only ASCII may be written.
    public static let asciiSpinnerFrames: [String] = ["|", "/", "-", "\\"]

    /// The widest the bar's inside grows; on a wide terminal the rest of the line is left empty.
    public static let maximumBarWidth = 60

    /// One progress line that is at most `width` terminal columns wide.
    ///
    /// With a known total: `name  45% [#####-----]  12.3 MiB/100.0 MiB  45.6 MiB/s  ETA 0:12`; with an unknown
    /// total: `name  ⠋ 12.3 MiB  45.6 MiB/s  0:12` (elapsed time instead of an ETA). When the width is short, the
    /// name is truncated in the middle with `…` and the bar shrinks; then the ETA, the rate, the bar, the sizes
    /// and the percentage are left out, in that order. Control characters in the name are shown as `?`.
    ///
    /// - Parameters:
    ///   - bytesPerSecond: the current rate, `nil` while it is not known yet.
    ///   - elapsed: seconds since the transfer started.
    ///   - spinnerFrame: any integer, incremented by the caller at each redraw.
    ///   - asciiOnly: use `|/-\` and `...` instead of Braille and `…`.
    public static func render(
        name: String,
        done: Int64,
        total: Int64?,
        bytesPerSecond: Double?,
        elapsed: Double,
        width: Int,
        spinnerFrame: Int,
        asciiOnly: Bool = false
    ) -> String {
        guard width > 0 else { return "" }
        let ellipsis = asciiOnly ? "..." : "…"
        let name = Self.sanitized(name)
        let done = max(0, done)

        // The parts after the name, each with the separator written before it, in the order they are dropped.
        var parts: [Part] = []
        if let total = total.map({ max(0, $0) }) {
            let fraction = total == 0 ? 1 : min(1, Double(done) / Double(total))
            let percent = Int((fraction * 100).rounded(.down))
            let totalText = ByteSize.format(total)
            parts.append(Part(text: Self.padLeft("\(percent)%", 4), separator: "  ", kind: .text, rank: 5))
            parts.append(Part(text: "", separator: " ", kind: .bar(fraction), rank: 3))
            parts.append(
                Part(
                    text: Self.padLeft(ByteSize.format(done), totalText.count) + "/" + totalText,
                    separator: " ",
                    kind: .text,
                    rank: 4
                )
            )
            parts.append(Part(text: Self.padLeft(Self.rate(bytesPerSecond), 10), separator: "  ", kind: .text, rank: 2))
            parts.append(
                Part(
                    text: Self.padRight(Self.eta(done: done, total: total, bytesPerSecond: bytesPerSecond), 8),
                    separator: "  ",
                    kind: .text,
                    rank: 1
                )
            )
        } else {
            let frames = asciiOnly ? Self.asciiSpinnerFrames : Self.spinnerFrames
            let frame = frames[((spinnerFrame % frames.count) + frames.count) % frames.count]
            parts.append(Part(text: frame, separator: "  ", kind: .text, rank: 5))
            parts.append(Part(text: ByteSize.format(done), separator: " ", kind: .text, rank: 4))
            parts.append(Part(text: Self.padLeft(Self.rate(bytesPerSecond), 10), separator: "  ", kind: .text, rank: 2))
            parts.append(Part(text: Self.clock(elapsed), separator: "  ", kind: .text, rank: 1))
        }

        let nameWidth = Self.displayWidth(name)
        if nameWidth == 0, !parts.isEmpty { parts[0].separator = "" }
        while true {
            let hasBar = parts.contains { $0.isBar }
            let fixed = parts.reduce(0) { sum, part in
                sum + Self.displayWidth(part.separator) + (part.isBar ? 0 : Self.displayWidth(part.text))
            }
            let room = width - fixed
            let nameMinimum = min(nameWidth, parts.count > 1 ? 12 : 4)
            let barMinimum = hasBar ? 12 : 0  // "[" + 10 + "]"
            if room >= nameMinimum + barMinimum {
                // A long name leaves at least two fifths of the room to the bar.
                let nameLimit = hasBar ? max(nameMinimum, room * 3 / 5) : room
                let shownName = min(nameWidth, room - barMinimum, nameLimit)
                let barWidth = min(Self.maximumBarWidth + 2, room - shownName)
                var line = Self.truncateMiddle(name, to: shownName, ellipsis: ellipsis)
                for part in parts {
                    line += part.separator
                    if case .bar(let fraction) = part.kind {
                        line += Self.bar(fraction: fraction, width: barWidth - 2)
                    } else {
                        line += part.text
                    }
                }
                return Self.trimmedTrailingSpaces(line)
            }
            // Leave out the least important part and try again.
            guard let least = parts.indices.min(by: { parts[$0].rank < parts[$1].rank }) else { break }
            parts.remove(at: least)
        }
        return Self.truncateMiddle(name, to: width, ellipsis: ellipsis)
    }

    /// A progress line without a bar or escape codes, for logs: `name: 45% (12.3 MiB/100.0 MiB), 45.6 MiB/s, ETA 0:12`.
    public static func renderPlain(
        name: String,
        done: Int64,
        total: Int64?,
        bytesPerSecond: Double?,
        elapsed: Double
    ) -> String {
        let name = Self.sanitized(name)
        let done = max(0, done)
        if let total = total.map({ max(0, $0) }) {
            let fraction = total == 0 ? 1 : min(1, Double(done) / Double(total))
            let percent = Int((fraction * 100).rounded(.down))
            return "\(name): \(percent)% (\(ByteSize.format(done))/\(ByteSize.format(total))), "
                + "\(Self.rate(bytesPerSecond)), \(Self.eta(done: done, total: total, bytesPerSecond: bytesPerSecond))"
        }
        return "\(name): \(ByteSize.format(done)), \(Self.rate(bytesPerSecond)), \(Self.clock(elapsed)) elapsed"
    }

    /// The line left when a transfer is done: `report.pdf  1.0 GiB in 4.2s (243.8 MiB/s), sha256 verified`.
    public static func finished(name: String, bytes: Int64, seconds: Double, verification: String? = nil) -> String {
        var line = "\(Self.sanitized(name))  \(ByteSize.format(max(0, bytes))) in \(Self.duration(seconds))"
        if seconds > 0, seconds.isFinite {
            line += " (\(Self.rate(Double(max(0, bytes)) / seconds)))"
        }
        if let verification, !verification.isEmpty {
            line += ", " + Self.sanitized(verification)
        }
        return line
    }

    // MARK: Pieces

    /// `45.6 MiB/s`, `0 B/s`, or `-- B/s` when unknown.
    public static func rate(_ bytesPerSecond: Double?) -> String {
        guard let bytesPerSecond, bytesPerSecond.isFinite, bytesPerSecond >= 0 else { return "-- B/s" }
        let clamped = min(bytesPerSecond, 9.0e18)
        return ByteSize.format(Int64(clamped.rounded())) + "/s"
    }

    /// `ETA 0:12`, `ETA 1:02:03`, `ETA --:--` without a rate, `ETA >99h` beyond 99 hours.
    public static func eta(done: Int64, total: Int64, bytesPerSecond: Double?) -> String {
        let remaining = max(0, total - done)
        if remaining == 0 { return "ETA 0:00" }
        guard let bytesPerSecond, bytesPerSecond.isFinite, bytesPerSecond > 0 else { return "ETA --:--" }
        // Rounded up, but not for the last bits of floating-point noise (15.000001 s is 0:15).
        let seconds = (Double(remaining) / bytesPerSecond - 0.001).rounded(.up)
        guard seconds < 100 * 3600 else { return "ETA >99h" }
        return "ETA " + Self.clock(seconds)
    }

    /// `0:12`, `12:34`, `1:02:03` (whole seconds, rounded down).
    public static func clock(_ seconds: Double) -> String {
        let total = seconds.isFinite ? Int64(max(0, min(seconds, 9.0e15))) : 0
        let hours = total / 3600
        let minutes = total % 3600 / 60
        let secs = total % 60
        if hours > 0 {
            return "\(hours):\(Self.twoDigits(minutes)):\(Self.twoDigits(secs))"
        }
        return "\(minutes):\(Self.twoDigits(secs))"
    }

    /// `0.3s`, `4.2s`, `59.9s`, `1m02s`, `1h02m03s`.
    public static func duration(_ seconds: Double) -> String {
        let seconds = seconds.isFinite ? max(0, seconds) : 0
        if seconds < 59.95 {
            let tenths = Int64((seconds * 10).rounded())
            return "\(tenths / 10).\(tenths % 10)s"
        }
        let total = Int64(seconds.rounded())
        let hours = total / 3600
        let minutes = total % 3600 / 60
        let secs = total % 60
        if hours > 0 { return "\(hours)h\(Self.twoDigits(minutes))m\(Self.twoDigits(secs))s" }
        return "\(minutes)m\(Self.twoDigits(secs))s"
    }

    /// `[#####-----]` with `width` characters inside the brackets.
    public static func bar(fraction: Double, width: Int) -> String {
        let width = max(0, width)
        let clamped = fraction.isFinite ? min(1, max(0, fraction)) : 0
        let filled = Int((Double(width) * clamped).rounded(.down))
        return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "]"
    }

    /// The name with control characters (which could move the cursor or change colours) replaced by `?`.
    public static func sanitized(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            let unsafe = character.unicodeScalars.contains { scalar in
                let value = scalar.value
                return value < 0x20 || (0x7F...0x9F).contains(value) || (0x202A...0x202E).contains(value)
                    || (0x2066...0x2069).contains(value)
            }
            result.append(unsafe ? "?" : character)
        }
        return result
    }

    /// Terminal columns taken by `text`: 2 for East Asian wide and emoji characters, 1 for the others.
    public static func displayWidth(_ text: some StringProtocol) -> Int {
        text.reduce(0) { $0 + Self.displayWidth(of: $1) }
    }

    /// Terminal columns taken by one character (0 for a lone combining mark or zero-width joiner).
    public static func displayWidth(of character: Character) -> Int {
        guard let first = character.unicodeScalars.first else { return 0 }
        let value = first.value
        if value < 0x300 { return 1 }
        if character.unicodeScalars.contains(where: { $0.value == 0xFE0F }) { return 2 }  // emoji presentation
        switch value {
        case 0x300...0x36F, 0x200B...0x200F: return 0
        case 0x1100...0x115F, 0x231A...0x231B, 0x2329...0x232A, 0x23E9...0x23EC, 0x23F0, 0x23F3, 0x25FD...0x25FE,
            0x2614...0x2615, 0x2648...0x2653, 0x267F, 0x2693, 0x26A1, 0x26AA...0x26AB, 0x26BD...0x26BE,
            0x26C4...0x26C5, 0x26CE, 0x26D4, 0x26EA, 0x26F2...0x26F3, 0x26F5, 0x26FA, 0x26FD, 0x2705,
            0x270A...0x270B, 0x2728, 0x274C, 0x274E, 0x2753...0x2755, 0x2757, 0x2795...0x2797, 0x27B0, 0x27BF,
            0x2B1B...0x2B1C, 0x2B50, 0x2B55, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
            0xA000...0xA4CF, 0xA960...0xA97F, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE10...0xFE19, 0xFE30...0xFE6F,
            0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x16FE0...0x16FE4, 0x17000...0x18AFF, 0x1B000...0x1B2FF,
            0x1F004, 0x1F0CF, 0x1F18E, 0x1F191...0x1F19A, 0x1F200...0x1F251, 0x1F300...0x1F64F,
            0x1F680...0x1F6FF, 0x1F7E0...0x1F7EB, 0x1F900...0x1F9FF, 0x1FA70...0x1FAFF, 0x20000...0x3FFFD:
            return 2
        default:
            return 1
        }
    }

    /// `text` shortened to at most `width` columns by replacing its middle with `ellipsis`
    /// (`a_very_lo…name.txt`), so both the start and the extension stay visible.
    public static func truncateMiddle(_ text: String, to width: Int, ellipsis: String = "…") -> String {
        guard width > 0 else { return "" }
        if Self.displayWidth(text) <= width { return text }
        let ellipsisWidth = Self.displayWidth(ellipsis)
        guard width > ellipsisWidth else { return Self.prefix(of: ellipsis, width: width) }
        let available = width - ellipsisWidth
        let headWidth = available / 2
        let tailWidth = available - headWidth
        let head = Self.prefix(of: text, width: headWidth)
        var tail: [Character] = []
        var used = 0
        for character in text.reversed() {
            let characterWidth = Self.displayWidth(of: character)
            if used + characterWidth > tailWidth { break }
            used += characterWidth
            tail.append(character)
        }
        return head + ellipsis + String(tail.reversed())
    }

    // MARK: Helpers

    private struct Part {
        enum Kind {
            case bar(Double)
            case text
        }

        var text: String
        var separator: String
        var kind: Kind
        /// Parts with the lowest rank are left out first when the line is too narrow.
        var rank: Int

        var isBar: Bool {
            if case .bar = self.kind { return true }
            return false
        }
    }

    private static func prefix(of text: String, width: Int) -> String {
        var result = ""
        var used = 0
        for character in text {
            let characterWidth = Self.displayWidth(of: character)
            if used + characterWidth > width { break }
            used += characterWidth
            result.append(character)
        }
        return result
    }

    private static func trimmedTrailingSpaces(_ text: String) -> String {
        var text = Substring(text)
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }

    private static func twoDigits(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }

    private static func padLeft(_ text: String, _ width: Int) -> String {
        let count = Self.displayWidth(text)
        return count >= width ? text : String(repeating: " ", count: width - count) + text
    }

    private static func padRight(_ text: String, _ width: Int) -> String {
        let count = Self.displayWidth(text)
        return count >= width ? text : text + String(repeating: " ", count: width - count)
    }
}

// MARK: - Rate

/// Transfer rate as a moving average over the last few seconds of samples.
public struct RateMeter: Sendable {
    private struct Sample: Sendable {
        var time: Double
        var bytes: Int64
    }

    /// Seconds of history the average covers.
    public let window: Double
    private var samples: [Sample] = []

    public init(window: Double = 2) {
        self.window = window
    }

    /// Records that `bytes` had been transferred in all at `time` (seconds, any monotonic origin).
    /// A count lower than the previous one (a restarted transfer) starts over.
    public mutating func add(time: Double, bytes: Int64) {
        if let last = self.samples.last, bytes < last.bytes || time < last.time {
            self.samples.removeAll()
        }
        // Coalesce samples closer than 50 ms, so the history stays short whatever the update frequency.
        if self.samples.count >= 2, time - self.samples[self.samples.count - 2].time < 0.05 {
            self.samples[self.samples.count - 1] = Sample(time: time, bytes: bytes)
        } else {
            self.samples.append(Sample(time: time, bytes: bytes))
        }
        // Keep one sample at or before the start of the window, so the average spans the whole window.
        while self.samples.count > 2, self.samples[1].time <= time - self.window {
            self.samples.removeFirst()
        }
    }

    /// Bytes per second over the window, or `nil` before two samples at different times.
    public var bytesPerSecond: Double? {
        guard let first = self.samples.first, let last = self.samples.last, last.time > first.time else { return nil }
        return Double(last.bytes - first.bytes) / (last.time - first.time)
    }

    public mutating func reset() {
        self.samples.removeAll()
    }
}

// MARK: - Reporter

/// A monotonic clock in seconds, the default for the reporters.
public let monotonicSeconds: @Sendable () -> Double = {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}

/// How progress is shown.
public enum ProgressMode: Hashable, Sendable {
    /// A line redrawn in place (`"\r" + line + ESC[K`) at most every redraw interval: for a terminal.
    case bar
    /// A plain line every `every` seconds and no escape codes: for logs and pipes.
    case plain(every: Double)
    /// Nothing at all.
    case quiet

    /// `.quiet` if asked, `.bar` when standard error is a terminal (see ``Terminal/isTTY(_:environment:)``),
    /// `.plain(every: 10)` otherwise.
    public static func automatic(
        quiet: Bool,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> ProgressMode {
        if quiet { return .quiet }
        return Terminal.isTTY(Terminal.standardError, environment: environment) ? .bar : .plain(every: 10)
    }
}

/// The progress of one transfer, written to an output (standard error by default). Thread-safe.
public final class ProgressReporter: @unchecked Sendable {
    public typealias Mode = ProgressMode

    public let name: String
    public let mode: Mode
    private let output: any TextOutput
    private let width: @Sendable () -> Int
    private let clock: @Sendable () -> Double
    private let asciiOnly: Bool
    private let redrawInterval: Double

    private let lock = NSLock()
    private let start: Double
    private var total: Int64?
    private var done: Int64 = 0
    private var meter = RateMeter()
    private var lastDraw: Double?
    private var lastPlain: Double
    private var frame = 0
    private var ended = false
    private var draws = 0

    /// - Parameters:
    ///   - width: the terminal width, asked at every redraw (the line uses one column less, so that it never
    ///     wraps).
    ///   - clock: monotonic seconds; inject one in tests.
    ///   - redrawInterval: the least time between two redraws in `.bar` mode.
    public init(
        name: String,
        total: Int64?,
        mode: Mode,
        output: any TextOutput = StandardErrorOutput(),
        width: @escaping @Sendable () -> Int = { Terminal.width() },
        clock: @escaping @Sendable () -> Double = monotonicSeconds,
        asciiOnly: Bool = false,
        redrawInterval: Double = 0.1
    ) {
        self.name = name
        self.total = total
        self.mode = mode
        self.output = output
        self.width = width
        self.clock = clock
        self.asciiOnly = asciiOnly
        self.redrawInterval = redrawInterval
        self.start = clock()
        self.lastPlain = self.start
        self.meter.add(time: self.start, bytes: 0)
    }

    /// How many times the bar was drawn (for tests).
    public var redrawCount: Int {
        self.lock.lock()
        defer { self.lock.unlock() }
        return self.draws
    }

    /// The current rate, bytes per second over the last two seconds.
    public var bytesPerSecond: Double? {
        self.lock.lock()
        defer { self.lock.unlock() }
        return self.meter.bytesPerSecond
    }

    /// Records progress: `done` bytes so far. A non-nil `total` replaces the total given before.
    public func update(done: Int64, total: Int64? = nil) {
        self.lock.lock()
        defer { self.lock.unlock() }
        guard !self.ended else { return }
        let now = self.clock()
        if let total { self.total = total }
        self.done = done
        self.meter.add(time: now, bytes: done)
        switch self.mode {
        case .quiet:
            return
        case .bar:
            if let lastDraw = self.lastDraw, now - lastDraw < self.redrawInterval { return }
            self.lastDraw = now
            self.draws += 1
            self.frame += 1
            let line = ProgressLine.render(
                name: self.name,
                done: done,
                total: self.total,
                bytesPerSecond: self.meter.bytesPerSecond,
                elapsed: now - self.start,
                width: max(1, self.width() - 1),
                spinnerFrame: self.frame,
                asciiOnly: self.asciiOnly
            )
            self.output.write("\r" + line + "\u{1B}[K")
        case .plain(let every):
            guard now - self.lastPlain >= every else { return }
            self.lastPlain = now
            self.draws += 1
            let line = ProgressLine.renderPlain(
                name: self.name,
                done: done,
                total: self.total,
                bytesPerSecond: self.meter.bytesPerSecond,
                elapsed: now - self.start
            )
            self.output.write(line + "\n")
        }
    }

    /// Ends the transfer successfully: the bar is replaced by ``ProgressLine/finished(name:bytes:seconds:verification:)``.
    /// - Parameter done: the final byte count, if not given to ``update(done:total:)`` already.
    public func finish(done: Int64? = nil, verification: String? = nil) {
        self.lock.lock()
        defer { self.lock.unlock() }
        guard !self.ended else { return }
        self.ended = true
        if let done { self.done = done }
        let line = ProgressLine.finished(
            name: self.name,
            bytes: self.done,
            seconds: self.clock() - self.start,
            verification: verification
        )
        switch self.mode {
        case .quiet: return
        case .bar: self.output.write("\r" + line + "\u{1B}[K\n")
        case .plain: self.output.write(line + "\n")
        }
    }

    /// Ends the transfer with an error: `name: message` on its own line.
    public func fail(_ message: String) {
        self.lock.lock()
        defer { self.lock.unlock() }
        guard !self.ended else { return }
        self.ended = true
        let line = ProgressLine.sanitized(self.name) + ": " + ProgressLine.sanitized(message)
        switch self.mode {
        case .quiet: return
        case .bar: self.output.write("\r" + line + "\u{1B}[K\n")
        case .plain: self.output.write(line + "\n")
        }
    }
}

// MARK: - Mirror

/// Progress of many transfers at once (mirror): an overall line, `3/10 files  45% [###---] 12.3 MiB/100.0 MiB …`,
/// and below it one line per active transfer. On a terminal (`.bar`) the block is redrawn in place with
/// cursor-up; finished and failed files are printed above it as permanent lines. In `.plain` mode the
/// overall line is printed every few seconds and each finished or failed file once. Thread-safe.
public final class MirrorProgress: @unchecked Sendable {
    private struct Transfer {
        var name: String
        var done: Int64
        var total: Int64?
        var start: Double
        var meter: RateMeter
    }

    public let mode: ProgressMode
    private let output: any TextOutput
    private let width: @Sendable () -> Int
    private let clock: @Sendable () -> Double
    private let asciiOnly: Bool
    private let redrawInterval: Double
    private let maximumActiveLines: Int
    private let logFiles: Bool

    private let lock = NSLock()
    private let start: Double
    private var totalFiles: Int
    private var totalBytes: Int64?
    private var finishedFiles = 0
    private var failedFiles = 0
    private var finishedBytes: Int64 = 0
    private var active: [String: Transfer] = [:]
    private var order: [String] = []
    private var meter = RateMeter()
    private var drawnLines = 0
    private var lastDraw: Double?
    private var lastPlain: Double
    private var frame = 0
    private var ended = false

    /// - Parameters:
    ///   - totalFiles: the number of files to transfer (``setTotals(files:bytes:)`` changes it later).
    ///   - totalBytes: their size in all, if known.
    ///   - maximumActiveLines: at most this many transfer lines; the others are summed up as `… and N more`.
    ///   - logFiles: print a line for each finished file (failed files are always printed).
    public init(
        totalFiles: Int,
        totalBytes: Int64?,
        mode: ProgressMode,
        output: any TextOutput = StandardErrorOutput(),
        width: @escaping @Sendable () -> Int = { Terminal.width() },
        clock: @escaping @Sendable () -> Double = monotonicSeconds,
        asciiOnly: Bool = false,
        redrawInterval: Double = 0.1,
        maximumActiveLines: Int = 6,
        logFiles: Bool = true
    ) {
        self.totalFiles = totalFiles
        self.totalBytes = totalBytes
        self.mode = mode
        self.output = output
        self.width = width
        self.clock = clock
        self.asciiOnly = asciiOnly
        self.redrawInterval = redrawInterval
        self.maximumActiveLines = max(1, maximumActiveLines)
        self.logFiles = logFiles
        self.start = clock()
        self.lastPlain = self.start
        self.meter.add(time: self.start, bytes: 0)
    }

    /// Changes the totals (when the remote tree is discovered while transferring).
    public func setTotals(files: Int, bytes: Int64?) {
        self.locked {
            self.totalFiles = files
            self.totalBytes = bytes
        }
    }

    /// A transfer begins; `name` identifies it in the calls that follow (use the relative path).
    public func start(_ name: String, total: Int64?) {
        self.locked {
            guard !self.ended else { return }
            let now = self.clock()
            if self.active[name] == nil { self.order.append(name) }
            var meter = RateMeter()
            meter.add(time: now, bytes: 0)
            self.active[name] = Transfer(name: name, done: 0, total: total, start: now, meter: meter)
            self.redraw(now: now, force: true)
        }
    }

    public func update(_ name: String, done: Int64) {
        self.locked {
            guard !self.ended, var transfer = self.active[name] else { return }
            let now = self.clock()
            transfer.done = done
            transfer.meter.add(time: now, bytes: done)
            self.active[name] = transfer
            self.meter.add(time: now, bytes: self.bytesDone)
            self.redraw(now: now, force: false)
        }
    }

    /// A transfer ended well; its line is printed above the block (with `logFiles`).
    public func finish(_ name: String, verification: String? = nil) {
        self.locked {
            guard !self.ended, let transfer = self.active.removeValue(forKey: name) else { return }
            self.order.removeAll { $0 == name }
            let now = self.clock()
            self.finishedFiles += 1
            self.finishedBytes += transfer.done
            self.meter.add(time: now, bytes: self.bytesDone)
            let line =
                self.logFiles
                ? ProgressLine.finished(
                    name: name,
                    bytes: transfer.done,
                    seconds: now - transfer.start,
                    verification: verification
                ) : nil
            self.emit(line, now: now)
        }
    }

    /// A transfer failed; `name: message` is printed above the block.
    public func fail(_ name: String, message: String) {
        self.locked {
            guard !self.ended else { return }
            let now = self.clock()
            if let transfer = self.active.removeValue(forKey: name) {
                self.order.removeAll { $0 == name }
                self.finishedBytes += transfer.done
            }
            self.failedFiles += 1
            self.meter.add(time: now, bytes: self.bytesDone)
            self.emit(ProgressLine.sanitized(name) + ": " + ProgressLine.sanitized(message), now: now)
        }
    }

    /// Ends the display with a summary: `10 files, 100.0 MiB in 4.2s (23.8 MiB/s), 1 failed`.
    public func end() {
        self.locked {
            guard !self.ended else { return }
            self.ended = true
            let now = self.clock()
            let files = self.finishedFiles
            let seconds = now - self.start
            var line = "\(files) \(files == 1 ? "file" : "files"), \(ByteSize.format(self.bytesDone))"
            line += " in \(ProgressLine.duration(seconds))"
            if seconds > 0 { line += " (\(ProgressLine.rate(Double(self.bytesDone) / seconds)))" }
            if self.failedFiles > 0 { line += ", \(self.failedFiles) failed" }
            switch self.mode {
            case .quiet: return
            case .bar: self.output.write(self.clearBlock() + line + "\n")
            case .plain: self.output.write(line + "\n")
            }
        }
    }

    // MARK: Drawing (lock held)

    private func locked(_ body: () -> Void) {
        self.lock.lock()
        defer { self.lock.unlock() }
        body()
    }

    private var bytesDone: Int64 {
        self.finishedBytes + self.active.values.reduce(0) { $0 + $1.done }
    }

    private var overallName: String {
        "\(self.finishedFiles + self.failedFiles)/\(self.totalFiles) files"
    }

    /// Prints a permanent line (if any) and redraws the block under it.
    private func emit(_ line: String?, now: Double) {
        switch self.mode {
        case .quiet:
            return
        case .plain:
            if let line { self.output.write(line + "\n") }
        case .bar:
            if let line {
                self.output.write(self.clearBlock() + line + "\u{1B}[K\n")
            }
            self.redraw(now: now, force: true)
        }
    }

    /// Moves the cursor to the start of the block and clears it to the end of the screen.
    private func clearBlock() -> String {
        defer { self.drawnLines = 0 }
        guard self.drawnLines > 0 else { return "\r" }
        // ESC[0A would move one line up on some terminals: only move when there is a line above.
        return "\r" + (self.drawnLines > 1 ? "\u{1B}[\(self.drawnLines - 1)A" : "") + "\u{1B}[J"
    }

    private func redraw(now: Double, force: Bool) {
        switch self.mode {
        case .quiet:
            return
        case .plain(let every):
            guard now - self.lastPlain >= every else { return }
            self.lastPlain = now
            let line = ProgressLine.renderPlain(
                name: self.overallName,
                done: self.bytesDone,
                total: self.totalBytes,
                bytesPerSecond: self.meter.bytesPerSecond,
                elapsed: now - self.start
            )
            self.output.write(line + "\n")
        case .bar:
            if !force, let lastDraw = self.lastDraw, now - lastDraw < self.redrawInterval { return }
            self.lastDraw = now
            self.frame += 1
            let width = max(1, self.width() - 1)
            var lines = [
                ProgressLine.render(
                    name: self.overallName,
                    done: self.bytesDone,
                    total: self.totalBytes,
                    bytesPerSecond: self.meter.bytesPerSecond,
                    elapsed: now - self.start,
                    width: width,
                    spinnerFrame: self.frame,
                    asciiOnly: self.asciiOnly
                )
            ]
            let indent = width > 10 ? "  " : ""
            for name in self.order.prefix(self.maximumActiveLines) {
                guard let transfer = self.active[name] else { continue }
                lines.append(
                    indent
                        + ProgressLine.render(
                            name: transfer.name,
                            done: transfer.done,
                            total: transfer.total,
                            bytesPerSecond: transfer.meter.bytesPerSecond,
                            elapsed: now - transfer.start,
                            width: width - indent.count,
                            spinnerFrame: self.frame,
                            asciiOnly: self.asciiOnly
                        )
                )
            }
            if self.order.count > self.maximumActiveLines {
                let more = "\(self.asciiOnly ? "..." : "…") and \(self.order.count - self.maximumActiveLines) more"
                lines.append(indent + ProgressLine.truncateMiddle(more, to: width - indent.count))
            }
            let text = self.clearBlock() + lines.joined(separator: "\n")
            self.drawnLines = lines.count
            self.output.write(text)
        }
    }
}
