/// What the server knows about one directory entry, gathered by the file system layer and formatted here.
public struct FileFacts: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case file
        case directory
        case symlink
        case other
    }

    public var name: String
    public var kind: Kind
    public var size: Int64
    /// Modification time, seconds since the Unix epoch (UTC).
    public var modified: Int64
    /// The POSIX permission bits (`st_mode & 0o7777`).
    public var mode: UInt32
    public var linkCount: Int
    public var owner: String
    public var group: String
    /// A value that is the same for two names of one file and different otherwise (device and inode).
    public var unique: String
    /// Whether the session's user may write here (the home is writable as a whole; read-only homes later).
    public var writable: Bool

    public init(
        name: String,
        kind: Kind,
        size: Int64,
        modified: Int64,
        mode: UInt32,
        linkCount: Int = 1,
        owner: String = "ftp",
        group: String = "ftp",
        unique: String,
        writable: Bool = true
    ) {
        self.name = name
        self.kind = kind
        self.size = size
        self.modified = modified
        self.mode = mode
        self.linkCount = linkCount
        self.owner = owner
        self.group = group
        self.unique = unique
        self.writable = writable
    }
}

/// The `ls -l` style used by LIST (and STAT path): the de-facto format every client parses.
///
///     -rw-r--r--    1 ftp      ftp               1234 Nov 26 19:09 report.txt
///     drwxr-xr-x    2 ftp      ftp               4096 Jan  2  2025 old
///
/// The date shows the time of day for entries modified within the last six months and the year otherwise,
/// exactly as `ls` does, always in UTC and in English month names whatever the machine's locale.
public enum ListFormat {
    public static func line(for facts: FileFacts, now: Int64) -> String {
        var out: [UInt8] = []
        Self.write(facts, now: now, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the line of ``line(for:now:)`` as UTF-8 bytes (no line end), without building intermediate strings:
    /// listings of many thousand entries are formatted byte by byte.
    public static func write(_ facts: FileFacts, now: Int64, into out: inout [UInt8]) {
        out.reserveCapacity(out.count + 64 + facts.name.utf8.count)
        out.append(Self.typeCharacter(facts.kind).asciiValue ?? UInt8(ascii: "-"))
        let bits: [UInt32] = [0o400, 0o200, 0o100, 0o040, 0o020, 0o010, 0o004, 0o002, 0o001]
        let letters: [UInt8] = Array("rwxrwxrwx".utf8)
        for index in 0..<9 { out.append(facts.mode & bits[index] != 0 ? letters[index] : UInt8(ascii: "-")) }
        out.append(UInt8(ascii: " "))
        Self.appendNumber(Int64(facts.linkCount), width: 4, to: &out)
        out.append(UInt8(ascii: " "))
        Self.appendPaddedRight(facts.owner, 8, to: &out)
        out.append(UInt8(ascii: " "))
        Self.appendPaddedRight(facts.group, 8, to: &out)
        out.append(UInt8(ascii: " "))
        Self.appendNumber(facts.size, width: 13, to: &out)
        out.append(UInt8(ascii: " "))
        let date = CivilTime(epochSeconds: facts.modified)
        out += Self.monthNames[date.month - 1].utf8
        out.append(UInt8(ascii: " "))
        Self.appendNumber(Int64(date.day), width: 2, to: &out)
        let sixMonths: Int64 = 182 * 24 * 3600
        if facts.modified > now - sixMonths && facts.modified <= now + 3600 {
            out.append(UInt8(ascii: " "))
            Self.appendNumber(Int64(date.hour), width: 2, zero: true, to: &out)
            out.append(UInt8(ascii: ":"))
            Self.appendNumber(Int64(date.minute), width: 2, zero: true, to: &out)
        } else {
            out += "  ".utf8
            Self.appendNumber(Int64(date.year), width: 4, to: &out)
        }
        out.append(UInt8(ascii: " "))
        out += facts.name.utf8
    }

    /// Decimal digits right-aligned in `width` columns, padded with spaces (or zeros).
    static func appendNumber(_ value: Int64, width: Int, zero: Bool = false, to out: inout [UInt8]) {
        // Digits are produced backwards into a stack buffer: no allocation per number.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { digits in
            var count = 0
            var rest = value.magnitude
            repeat {
                digits[count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            if value < 0 {
                digits[count] = UInt8(ascii: "-")
                count += 1
            }
            if width > count {
                out.append(
                    contentsOf: repeatElement(zero ? UInt8(ascii: "0") : UInt8(ascii: " "), count: width - count)
                )
            }
            for index in stride(from: count - 1, through: 0, by: -1) { out.append(digits[index]) }
        }
    }

    static func appendPaddedRight(_ text: String, _ width: Int, to out: inout [UInt8]) {
        out += text.utf8
        for _ in text.count..<max(width, text.count) { out.append(UInt8(ascii: " ")) }
    }

    static func typeCharacter(_ kind: FileFacts.Kind) -> Character {
        switch kind {
        case .file: return "-"
        case .directory: return "d"
        case .symlink: return "l"
        case .other: return "-"
        }
    }

    static func permissionString(_ mode: UInt32) -> String {
        let symbols: [(UInt32, Character)] = [
            (0o400, "r"), (0o200, "w"), (0o100, "x"),
            (0o040, "r"), (0o020, "w"), (0o010, "x"),
            (0o004, "r"), (0o002, "w"), (0o001, "x"),
        ]
        return String(symbols.map { mode & $0.0 != 0 ? $0.1 : "-" })
    }

    static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `MMM dd HH:mm` within six months of now (past or slightly future), `MMM dd  yyyy` otherwise.
    static func dateString(_ time: Int64, now: Int64) -> String {
        let date = CivilTime(epochSeconds: time)
        let month = Self.monthNames[date.month - 1]
        let day = Self.padLeft(String(date.day), 2)
        let sixMonths: Int64 = 182 * 24 * 3600
        if time > now - sixMonths && time <= now + 3600 {
            return "\(month) \(day) \(Self.twoDigits(date.hour)):\(Self.twoDigits(date.minute))"
        }
        return "\(month) \(day)  \(Self.padLeft(String(date.year), 4))"
    }

    static func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }

    static func padLeft(_ text: String, _ width: Int) -> String {
        let count = text.count
        return count >= width ? text : String(repeating: " ", count: width - count) + text
    }

    static func padRight(_ text: String, _ width: Int) -> String {
        let count = text.count
        return count >= width ? text : text + String(repeating: " ", count: width - count)
    }
}

/// The facts of RFC 3659 §7 (MLST/MLSD) that Ferry implements.
public enum MLSFact: String, CaseIterable, Hashable, Sendable {
    case type
    case size
    case modify
    case perm
    case unique

    /// The enabled facts in the order MLSx lines give them (the order of the cases).
    public static func ordered(_ enabled: Set<MLSFact>) -> [MLSFact] {
        Self.allCases.filter { enabled.contains($0) }
    }

    /// The FEAT line: every fact, the enabled ones marked with `*`.
    public static func featLine(enabled: Set<MLSFact>) -> String {
        "MLST " + Self.allCases.map { $0.rawValue + (enabled.contains($0) ? "*" : "") + ";" }.joined()
    }

    /// `OPTS MLST type;size;` (RFC 3659 §7.9): unknown facts are ignored; returns the new set.
    public static func parseSelection(_ text: String) -> Set<MLSFact> {
        var result: Set<MLSFact> = []
        for part in text.split(separator: ";") {
            if let fact = MLSFact(rawValue: part.lowercased()) { result.insert(fact) }
        }
        return result
    }

    /// The reply text of `OPTS MLST`: the facts now selected, in canonical order.
    public static func selectionText(_ facts: Set<MLSFact>) -> String {
        Self.allCases.filter { facts.contains($0) }.map { $0.rawValue + ";" }.joined()
    }
}

/// Machine-readable listings (RFC 3659 §7): `fact=value;...; name`.
///
///     type=file;size=1234;modify=20261126190912;perm=adfrw;unique=803g1a2; report.txt
public enum MLSFormat {
    /// What the entry is in relation to the listed directory (RFC 3659 §7.5.1).
    public enum Role: Sendable {
        case entry
        case currentDirectory
        case parentDirectory
    }

    /// - Parameter extra: further `name=value` facts appended as given (e.g. the quota facts of `MLST /`).
    public static func line(
        for facts: FileFacts,
        facts enabled: Set<MLSFact>,
        role: Role = .entry,
        extra: [(String, String)] = []
    ) -> String {
        var out: [UInt8] = []
        Self.write(facts, facts: enabled, role: role, extra: extra, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the line of ``line(for:facts:role:extra:)`` as UTF-8 bytes (no line end), without intermediate
    /// strings: MLSD of many thousand entries is formatted byte by byte.
    public static func write(
        _ facts: FileFacts,
        facts enabled: Set<MLSFact>,
        role: Role = .entry,
        extra: [(String, String)] = [],
        into out: inout [UInt8]
    ) {
        Self.write(facts, ordered: MLSFact.ordered(enabled), role: role, extra: extra, into: &out)
    }

    /// ``write(_:facts:role:extra:into:)`` with the facts already in their order (``MLSFact/ordered(_:)``), so that
    /// a listing looks the selection up once, not once per fact of every entry.
    public static func write(
        _ facts: FileFacts,
        ordered enabled: [MLSFact],
        role: Role = .entry,
        extra: [(String, String)] = [],
        into out: inout [UInt8]
    ) {
        out.reserveCapacity(out.count + 96 + facts.name.utf8.count)
        for fact in enabled {
            switch fact {
            case .type:
                out += "type=".utf8
                out += Self.typeValue(facts.kind, role: role).utf8
            case .size:
                // RFC 3659 §7.5.5: size of a directory is of little use; send it for files only.
                guard facts.kind == .file else { continue }
                out += "size=".utf8
                ListFormat.appendNumber(facts.size, width: 0, to: &out)
            case .modify:
                out += "modify=".utf8
                let date = CivilTime(epochSeconds: facts.modified)
                ListFormat.appendNumber(Int64(date.year), width: 4, zero: true, to: &out)
                ListFormat.appendNumber(Int64(date.month), width: 2, zero: true, to: &out)
                ListFormat.appendNumber(Int64(date.day), width: 2, zero: true, to: &out)
                ListFormat.appendNumber(Int64(date.hour), width: 2, zero: true, to: &out)
                ListFormat.appendNumber(Int64(date.minute), width: 2, zero: true, to: &out)
                ListFormat.appendNumber(Int64(date.second), width: 2, zero: true, to: &out)
            case .perm:
                out += "perm=".utf8
                out += Self.permValue(facts).utf8
            case .unique:
                out += "unique=".utf8
                out += facts.unique.utf8
            }
            out.append(UInt8(ascii: ";"))
        }
        for (name, value) in extra {
            out += name.utf8
            out.append(UInt8(ascii: "="))
            out += value.utf8
            out.append(UInt8(ascii: ";"))
        }
        out.append(UInt8(ascii: " "))
        out += facts.name.utf8
    }

    static func typeValue(_ kind: FileFacts.Kind, role: Role) -> String {
        switch (kind, role) {
        case (.directory, .currentDirectory): return "cdir"
        case (.directory, .parentDirectory): return "pdir"
        case (.directory, .entry): return "dir"
        case (.file, _): return "file"
        case (.symlink, _): return "OS.unix=symlink"
        case (.other, _): return "OS.unix=special"
        }
    }

    /// RFC 3659 §7.5.5 perm fact: what the user may do, not the raw mode.
    static func permValue(_ facts: FileFacts) -> String {
        let readable = facts.mode & 0o400 != 0
        switch facts.kind {
        case .directory:
            // e: enter, l: list, c: create file, m: make dir, d: delete, f: rename, p: purge entries
            var value = ""
            if facts.writable { value += "cdfmp" }
            if facts.mode & 0o100 != 0 { value += "e" }
            if readable { value += "l" }
            return value
        case .file, .symlink, .other:
            // a: append, d: delete, f: rename, r: retrieve, w: store
            var value = ""
            if facts.writable { value += "adfw" }
            if readable { value += "r" }
            return value
        }
    }

    /// `YYYYMMDDHHMMSS` in UTC (RFC 3659 §2.3), also the MDTM reply format.
    public static func timeValue(_ time: Int64) -> String {
        let date = CivilTime(epochSeconds: time)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
        }
        return pad(date.year, 4) + pad(date.month, 2) + pad(date.day, 2) + pad(date.hour, 2) + pad(date.minute, 2)
            + pad(date.second, 2)
    }
}

/// A UTC calendar date and time computed from epoch seconds with integer arithmetic (no locale, no Foundation).
public struct CivilTime: Hashable, Sendable {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int

    public init(epochSeconds: Int64) {
        let secondsPerDay: Int64 = 86_400
        var days = epochSeconds / secondsPerDay
        var secondsOfDay = epochSeconds % secondsPerDay
        if secondsOfDay < 0 {
            secondsOfDay += secondsPerDay
            days -= 1
        }
        self.hour = Int(secondsOfDay / 3600)
        self.minute = Int(secondsOfDay % 3600 / 60)
        self.second = Int(secondsOfDay % 60)
        // Howard Hinnant's days-from-civil inverse.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        self.day = Int(dayOfYear - (153 * mp + 2) / 5 + 1)
        self.month = Int(mp < 10 ? mp + 3 : mp - 9)
        self.year = Int(yearOfEra + era * 400) + (self.month <= 2 ? 1 : 0)
    }
}
