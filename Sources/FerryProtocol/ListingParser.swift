/// One entry of a remote directory listing, as a client sees it after parsing MLSD/MLST or LIST output.
public struct RemoteEntry: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case file
        case directory
        case symlink
        /// Devices, pipes, sockets, and anything the server did not describe.
        case other
    }

    /// The name exactly as the server sent it (spaces kept), without a symlink's ` -> target`.
    public var name: String
    public var kind: Kind
    /// The size in bytes, when the server gave one (MLSx `size`/`sizd`, LIST's size column; nil for devices).
    public var size: Int64?
    /// Modification time, seconds since the Unix epoch (UTC). LIST times are in the server's time zone, which is
    /// usually UTC (Ferry, vsftpd, ProFTPD and pure-ftpd by default) and are only accurate to the minute.
    public var modified: Int64?
    /// The nine `ls` permission characters (`rwxr-xr-x`), from LIST or from the MLSx `UNIX.mode` fact. The RFC 3659
    /// `perm` fact (what the user may do) is in `facts["perm"]`.
    public var permissions: String?
    /// Where a symbolic link points, when the server says (`name -> target`, `type=OS.unix=slink:target`).
    public var linkTarget: String?
    /// The MLSx facts with lowercased names (`type`, `size`, `modify`, `perm`, `unix.mode`, …), values as sent.
    /// Empty for LIST entries.
    public var facts: [String: String]

    public init(
        name: String,
        kind: Kind,
        size: Int64? = nil,
        modified: Int64? = nil,
        permissions: String? = nil,
        linkTarget: String? = nil,
        facts: [String: String] = [:]
    ) {
        self.name = name
        self.kind = kind
        self.size = size
        self.modified = modified
        self.permissions = permissions
        self.linkTarget = linkTarget
        self.facts = facts
    }

    /// The listed directory itself or its parent (`type=cdir`/`type=pdir`, or a LIST entry named `.` or `..`):
    /// callers walking a tree must skip these.
    public var isCurrentOrParent: Bool {
        if let type = self.facts["type"]?.lowercased(), type == "cdir" || type == "pdir" { return true }
        return self.name == "." || self.name == ".."
    }
}

/// Parsers for the listings FTP servers send: RFC 3659 machine listings (MLSD/MLST) and the de-facto LIST formats
/// (Unix `ls -l` and the Windows/IIS DOS style). Pure functions; unparseable lines give `nil`.
public enum ListingParser {
    // MARK: - MLSx

    /// Parses one RFC 3659 entry, `fact=value;fact=value; name`, as sent by MLSD (and by MLST on the control
    /// connection, where the line starts with one extra space, which is accepted too).
    ///
    /// Fact names are case-insensitive and are stored lowercased in ``RemoteEntry/facts``. The name is everything
    /// after the space that ends the facts, kept exactly. `type=cdir`/`pdir` entries are returned as directories;
    /// skip them with ``RemoteEntry/isCurrentOrParent``.
    public static func parseMLSx(_ line: String) -> RemoteEntry? {
        // Split on scalars, not Characters: a name that starts with a combining mark would otherwise be glued to the
        // space before it, and the line would be dropped or its name read wrong (found by Fuzz/FuzzListing).
        var text = Self.strippingLineEnd(line).unicodeScalars
        // MLST's reply line has a leading space; MLSD lines with no facts are " name". Tell them apart by
        // whether a "; " follows something that looks like facts: every fact ends with ";" (RFC 3659 §7.2), so a
        // name without "; " is never taken for facts. Found by Fuzz/FuzzListing: looking only at the first word,
        // " a=b c" (the server selected no fact that applies to this entry) was read as the fact a=b and the name c.
        // A bare name that itself holds "a=b; " stays ambiguous in the grammar.
        if text.first == " " {
            let rest = text.dropFirst()
            if let separator = rest.firstRange(of: "; ".unicodeScalars),
                Self.looksLikeFacts(Substring(rest[..<separator.lowerBound]))
            {
                text = rest
            } else {
                let name = String(Substring(rest))
                return name.isEmpty ? nil : RemoteEntry(name: name, kind: .other)
            }
        }

        // The facts end at the first "; " (values may not contain spaces, but some servers put them there anyway);
        // a server that forgets the final ";" is still understood at the first space.
        let factsPart: Substring
        let name: Substring
        if let separator = text.firstRange(of: "; ".unicodeScalars) {
            factsPart = Substring(text[..<separator.lowerBound])
            name = Substring(text[separator.upperBound...])
        } else if let space = text.firstIndex(of: " ") {
            factsPart = Substring(text[..<space])
            name = Substring(text[text.index(after: space)...])
        } else {
            return nil
        }
        guard !name.isEmpty, Self.looksLikeFacts(factsPart) else { return nil }

        var facts: [String: String] = [:]
        for fact in factsPart.unicodeScalars.split(separator: ";", omittingEmptySubsequences: true) {
            guard let equals = fact.firstIndex(of: "=") else { return nil }
            let key = Substring(fact[..<equals]).lowercased()
            guard !key.isEmpty else { return nil }
            facts[key] = String(Substring(fact[fact.index(after: equals)...]))
        }

        var entry = RemoteEntry(name: String(name), kind: .other, facts: facts)
        if let type = facts["type"] {
            let lowered = type.lowercased()
            switch lowered {
            case "file":
                entry.kind = .file
            case "dir", "cdir", "pdir":
                entry.kind = .directory
            default:
                if lowered.hasPrefix("os.unix=slink") || lowered.hasPrefix("os.unix=symlink")
                    || lowered == "os.unix=link"
                {
                    entry.kind = .symlink
                    if let colon = type.unicodeScalars.firstIndex(of: ":") {
                        let target = type.unicodeScalars[type.unicodeScalars.index(after: colon)...]
                        if !target.isEmpty { entry.linkTarget = String(Substring(target)) }
                    }
                }
            }
        }
        if let size = facts["size"] ?? facts["sizd"], let value = Int64(size), value >= 0 {
            entry.size = value
        }
        if let modify = facts["modify"] {
            entry.modified = Self.parseTimeValue(modify)
        }
        if let mode = facts["unix.mode"], let bits = UInt32(mode, radix: 8) {
            entry.permissions = Self.permissionString(bits)
        }
        return entry
    }

    /// `YYYYMMDDHHMMSS[.sss]` (RFC 3659 §2.3, UTC) to epoch seconds; the fraction is dropped.
    public static func parseTimeValue(_ text: String) -> Int64? {
        var digits = Substring(text)
        if let dot = digits.firstIndex(of: ".") {
            let fraction = digits[digits.index(after: dot)...]
            guard fraction.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            digits = digits[..<dot]
        }
        let values = digits.utf8.map { Int($0) - 48 }
        guard values.count == 14, values.allSatisfy({ (0...9).contains($0) }) else { return nil }
        func number(_ range: Range<Int>) -> Int { values[range].reduce(0) { $0 * 10 + $1 } }
        return Self.epoch(
            year: number(0..<4),
            month: number(4..<6),
            day: number(6..<8),
            hour: number(8..<10),
            minute: number(10..<12),
            second: number(12..<14)
        )
    }

    // MARK: - LIST

    /// Parses one LIST line in the Unix `ls -l` format or the Windows/IIS DOS format; `nil` for anything else
    /// (including `total N` lines and blank lines).
    ///
    /// - Parameter now: the current time (epoch seconds), to give a year to `MMM dd HH:MM` dates: the most recent
    ///   such date that is no more than about six months in the future.
    public static func parseLIST(_ line: String, now: Int64) -> RemoteEntry? {
        let text = Self.strippingLineEnd(line)
        guard let first = text.first else { return nil }
        if first.isASCII, first.isNumber {
            return Self.parseDOS(text)
        }
        return Self.parseUnix(text, now: now)
    }

    /// Parses a whole listing (lines separated by CRLF or LF), skipping lines that are not entries.
    /// - Parameter machine: `true` for MLSD output, `false` for LIST output.
    public static func parse(listing text: String, machine: Bool, now: Int64) -> [RemoteEntry] {
        var entries: [RemoteEntry] = []
        for line in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let string = String(line)
            if let entry = machine ? self.parseMLSx(string) : self.parseLIST(string, now: now) {
                entries.append(entry)
            }
        }
        return entries
    }

    // MARK: - Unix ls -l

    private static let monthNames = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]

    /// `-rw-r--r--    1 owner    group        1234 Nov 26 19:09 name`, with or without the group column, with
    /// `major, minor` instead of a size for devices, and `YYYY-MM-DD HH:MM` dates (`ls --time-style=long-iso`).
    private static func parseUnix(_ text: Substring, now: Int64) -> RemoteEntry? {
        // Scalars, not Characters, as in `parseMLSx`: a name starting with a combining mark must not swallow the
        // space before it.
        let line = text.unicodeScalars.drop(while: { $0 == " " })
        let tokens = Self.tokens(line)
        guard tokens.count >= 5 else { return nil }
        func word(_ index: Int) -> Substring { Substring(line[tokens[index]]) }
        let modeToken = word(0)
        guard let (kind, permissions) = Self.parseModeToken(modeToken) else { return nil }

        // Find the date: the first "Mon dd (yyyy|hh:mm)" (or "yyyy-mm-dd hh:mm") preceded by a size, and followed
        // by the name. The owner or group could look like a month; requiring the whole pattern avoids that.
        var index = 2
        while index + 2 < tokens.count {
            defer { index += 1 }
            let sizeToken = word(index - 1)
            let dateEnd: String.Index
            let modified: Int64?
            if let month = Self.monthNames.firstIndex(of: word(index).lowercased()) {
                guard let day = Self.smallNumber(word(index + 1)), (1...31).contains(day) else { continue }
                let yearOrTime = word(index + 2)
                if yearOrTime.count == 4, let year = Self.smallNumber(yearOrTime) {
                    modified = Self.epoch(year: year, month: month + 1, day: day, hour: 0, minute: 0, second: 0)
                } else if let (hour, minute) = Self.parseClock(yearOrTime) {
                    modified = Self.guessYear(month: month + 1, day: day, hour: hour, minute: minute, now: now)
                } else {
                    continue
                }
                dateEnd = tokens[index + 2].upperBound
            } else if let (year, month, day) = Self.parseISODate(word(index)),
                let (hour, minute) = Self.parseClock(word(index + 1))
            {
                modified = Self.epoch(year: year, month: month, day: day, hour: hour, minute: minute, second: 0)
                dateEnd = tokens[index + 1].upperBound
            } else {
                continue
            }
            guard modified != nil else { continue }

            // The size column: digits, or "major, minor" / "major,minor" for a device.
            var size: Int64?
            if let value = Int64(sizeToken), value >= 0, sizeToken.allSatisfy({ $0.isASCII && $0.isNumber }) {
                size = value
                if kind == .other, index >= 3, word(index - 2).hasSuffix(",") { size = nil }
            } else if sizeToken.contains(","), sizeToken.allSatisfy({ $0 == "," || ($0.isASCII && $0.isNumber) }) {
                size = nil
            } else {
                continue
            }

            // The name follows the date after exactly one space and runs to the end of the line.
            guard dateEnd < line.endIndex, line[dateEnd] == " " else { continue }
            var name = line[line.index(after: dateEnd)...]
            guard !name.isEmpty else { continue }
            var linkTarget: String?
            if kind == .symlink, let arrow = name.firstRange(of: " -> ".unicodeScalars) {
                linkTarget = String(Substring(name[arrow.upperBound...]))
                name = name[..<arrow.lowerBound]
            }
            return RemoteEntry(
                name: String(Substring(name)),
                kind: kind,
                size: size,
                modified: modified,
                permissions: permissions,
                linkTarget: linkTarget
            )
        }
        return nil
    }

    /// `drwxr-xr-x`, optionally followed by an ACL/attribute marker (`+`, `@`, `.`).
    private static func parseModeToken(_ token: Substring) -> (RemoteEntry.Kind, String)? {
        var characters = Array(token)
        if characters.count == 11, "+@.".contains(characters[10]) { characters.removeLast() }
        guard characters.count == 10 else { return nil }
        let kind: RemoteEntry.Kind
        switch characters[0] {
        case "-": kind = .file
        case "d": kind = .directory
        case "l": kind = .symlink
        case "c", "b", "p", "s", "D", "n": kind = .other
        default: return nil
        }
        let permissions = characters[1...]
        guard permissions.allSatisfy({ "rwxsStTlL-".contains($0) }) else { return nil }
        return (kind, String(permissions))
    }

    /// The ranges of the space-separated words of `line`.
    private static func tokens(_ line: Substring.UnicodeScalarView) -> [Range<String.Index>] {
        var result: [Range<Substring.Index>] = []
        var index = line.startIndex
        while index < line.endIndex {
            while index < line.endIndex, line[index] == " " || line[index] == "\t" { index = line.index(after: index) }
            guard index < line.endIndex else { break }
            let start = index
            while index < line.endIndex, line[index] != " ", line[index] != "\t" { index = line.index(after: index) }
            result.append(start..<index)
        }
        return result
    }

    /// `HH:MM` (or `H:MM`).
    private static func parseClock(_ text: Substring) -> (Int, Int)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, (1...2).contains(parts[0].count), parts[1].count == 2,
            let hour = Self.smallNumber(parts[0]), let minute = Self.smallNumber(parts[1]),
            hour < 24, minute < 60
        else { return nil }
        return (hour, minute)
    }

    /// `YYYY-MM-DD`.
    private static func parseISODate(_ text: Substring) -> (Int, Int, Int)? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Self.smallNumber(parts[0]), let month = Self.smallNumber(parts[1]),
            let day = Self.smallNumber(parts[2])
        else { return nil }
        return (year, month, day)
    }

    /// A date without a year: the latest year in which it falls no more than about six months after `now`.
    private static func guessYear(month: Int, day: Int, hour: Int, minute: Int, now: Int64) -> Int64? {
        let currentYear = CivilTime(epochSeconds: now).year
        // Ferry's own LIST (`ListFormat`) shows the time of day for dates up to 182 days old, truncated to the
        // minute: 182 days, that minute and this lookahead must stay under a year, or such a date lands a year
        // ahead. Found by Fuzz/FuzzListing: with a full 183 days, a date 182 days and a few seconds old did.
        let limit = now + 183 * 86_400 - 60
        for year in [currentYear + 1, currentYear, currentYear - 1, currentYear - 2] {
            guard let time = Self.epoch(year: year, month: month, day: day, hour: hour, minute: minute, second: 0)
            else { continue }  // Feb 29 in a common year
            if time <= limit { return time }
        }
        return nil
    }

    // MARK: - DOS / IIS

    /// `11-26-26  07:09PM       <DIR>          My Dir` and `02-07-21  10:05AM              1234 file name.txt`,
    /// with 2- or 4-digit years (MM-DD-YY[YY], or YYYY-MM-DD), 12-hour (AM/PM) or 24-hour times.
    private static func parseDOS(_ text: Substring) -> RemoteEntry? {
        // Scalars, not Characters, as in `parseMLSx`.
        let line = text.unicodeScalars
        let tokens = Self.tokens(line)
        guard tokens.count >= 4 else { return nil }
        func word(_ index: Int) -> Substring { Substring(line[tokens[index]]) }
        let dateParts = word(0).split(omittingEmptySubsequences: false, whereSeparator: { "-/.".contains($0) })
        guard dateParts.count == 3, let a = Self.smallNumber(dateParts[0]), let b = Self.smallNumber(dateParts[1]),
            let c = Self.smallNumber(dateParts[2])
        else { return nil }
        var (year, month, day): (Int, Int, Int)
        if dateParts[0].count == 4 {
            (year, month, day) = (a, b, c)
        } else {
            guard dateParts[2].count == 2 || dateParts[2].count == 4 else { return nil }
            (month, day, year) = (a, b, c)
            if dateParts[2].count == 2 { year += year < 70 ? 2000 : 1900 }
        }

        var timeText = word(1).uppercased()[...]
        var meridiem: Substring?
        if timeText.hasSuffix("AM") || timeText.hasSuffix("PM") {
            meridiem = timeText.suffix(2)
            timeText = timeText.dropLast(2)
        }
        guard let clock = Self.parseClock(timeText) else { return nil }
        var hour = clock.0
        let minute = clock.1
        if let meridiem {
            guard (1...12).contains(hour) else { return nil }
            if meridiem == "AM" && hour == 12 { hour = 0 }
            if meridiem == "PM" && hour != 12 { hour += 12 }
        }
        guard let modified = Self.epoch(year: year, month: month, day: day, hour: hour, minute: minute, second: 0)
        else { return nil }

        let sizeToken = word(2)
        var kind = RemoteEntry.Kind.file
        var size: Int64?
        if sizeToken.uppercased() == "<DIR>" {
            kind = .directory
        } else if sizeToken.first == "<", sizeToken.last == ">" {
            kind = .other  // <JUNCTION>, <SYMLINK>, …
        } else {
            let digits = sizeToken.filter { $0 != "," }
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int64(digits) else {
                return nil
            }
            size = value
        }
        // The name starts after the padding that follows the size or <DIR> column.
        let name = line[tokens[3].lowerBound...]
        return RemoteEntry(name: String(Substring(name)), kind: kind, size: size, modified: modified)
    }

    // MARK: - Helpers

    private static func strippingLineEnd(_ line: String) -> Substring {
        var text = Substring(line)
        while let last = text.last, last == "\r" || last == "\n" || last == "\r\n" { text = text.dropLast() }
        return text
    }

    /// Whether `text` is `name=value;…` (every part has a name and an `=`).
    private static func looksLikeFacts(_ text: Substring) -> Bool {
        let parts = text.unicodeScalars.split(separator: ";", omittingEmptySubsequences: true)
        guard !parts.isEmpty else { return false }
        return parts.allSatisfy { part in
            guard let equals = part.firstIndex(of: "=") else { return false }
            return equals != part.startIndex
        }
    }

    /// A non-negative decimal of at most 9 ASCII digits.
    private static func smallNumber(_ text: some StringProtocol) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 9, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int(text)
    }

    static func permissionString(_ mode: UInt32) -> String {
        var result = ""
        let symbols: [Character] = ["r", "w", "x"]
        for shift in stride(from: 8, through: 0, by: -1) {
            result.append(mode & (1 << UInt32(shift)) != 0 ? symbols[(8 - shift) % 3] : "-")
        }
        // setuid, setgid and sticky bits, as ls shows them.
        func mark(_ index: Int, bit: UInt32, set: Character, unset: Character) {
            guard mode & bit != 0 else { return }
            let position = result.index(result.startIndex, offsetBy: index)
            let executable = result[position] == "x"
            result.replaceSubrange(position...position, with: String(executable ? set : unset))
        }
        mark(2, bit: 0o4000, set: "s", unset: "S")
        mark(5, bit: 0o2000, set: "s", unset: "S")
        mark(8, bit: 0o1000, set: "t", unset: "T")
        return result
    }

    /// Epoch seconds of a UTC civil time, or `nil` if the date or time is out of range.
    static func epoch(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int64? {
        guard (1...12).contains(month), day >= 1, day <= Self.daysInMonth(year: year, month: month),
            (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second)
        else { return nil }
        // Howard Hinnant's days-from-civil.
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return days * 86_400 + Int64(hour) * 3600 + Int64(minute) * 60 + Int64(second)
    }

    private static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}
