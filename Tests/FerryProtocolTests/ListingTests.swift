import Foundation
import Testing

@testable import FerryProtocol

/// 2023-11-14 22:13:20 UTC.
private let now: Int64 = 1_700_000_000
private let day: Int64 = 86_400

private func facts(
    _ name: String,
    _ kind: FileFacts.Kind = .file,
    size: Int64 = 0,
    modified: Int64 = now - 3600,
    mode: UInt32 = 0o644,
    linkCount: Int = 1,
    owner: String = "ftp",
    group: String = "ftp",
    writable: Bool = true
) -> FileFacts {
    FileFacts(
        name: name,
        kind: kind,
        size: size,
        modified: modified,
        mode: mode,
        linkCount: linkCount,
        owner: owner,
        group: group,
        unique: "803g1a2",
        writable: writable
    )
}

private let utc = TimeZone(identifier: "UTC")!

private func gregorianUTC() -> Calendar {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = utc
    return calendar
}

private func formatter(_ format: String) -> DateFormatter {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = utc
    formatter.calendar = gregorianUTC()
    formatter.dateFormat = format
    return formatter
}

@Suite("ListFormat (LIST lines)")
struct ListFormatTests {
    @Test func defaultsOfFileFacts() {
        let facts = FileFacts(name: "n", kind: .file, size: 1, modified: 2, mode: 0o600, unique: "u")
        #expect(facts.linkCount == 1)
        #expect(facts.owner == "ftp")
        #expect(facts.group == "ftp")
        #expect(facts.writable)
    }

    @Test func fileLine() {
        let line = ListFormat.line(for: facts("report.txt", size: 1234), now: now)
        #expect(line == "-rw-r--r--    1 ftp      ftp               1234 Nov 14 21:13 report.txt")
    }

    @Test func directoryLine() {
        let old = facts("old", .directory, size: 4096, modified: 1_609_581_600, mode: 0o755, linkCount: 2)
        #expect(
            ListFormat.line(for: old, now: now)
                == "drwxr-xr-x    2 ftp      ftp               4096 Jan  2  2021 old"
        )
    }

    /// Symlinks are listed as the link itself (`l`, no ` -> target`).
    @Test func symlinkLine() {
        let link = facts("link", .symlink, size: 11, modified: now, mode: 0o777)
        #expect(
            ListFormat.line(for: link, now: now)
                == "lrwxrwxrwx    1 ftp      ftp                 11 Nov 14 22:13 link"
        )
    }

    @Test func otherKindsListAsFiles() {
        let fifo = facts("fifo", .other, mode: 0o600)
        #expect(ListFormat.line(for: fifo, now: now).hasPrefix("-rw------- "))
    }

    @Test(arguments: [
        (FileFacts.Kind.file, Character("-")), (.directory, "d"), (.symlink, "l"), (.other, "-"),
    ])
    func typeCharacter(kind: FileFacts.Kind, character: Character) {
        #expect(ListFormat.typeCharacter(kind) == character)
    }

    @Test(arguments: [
        (UInt32(0o000), "---------"),
        (0o777, "rwxrwxrwx"),
        (0o644, "rw-r--r--"),
        (0o755, "rwxr-xr-x"),
        (0o700, "rwx------"),
        (0o600, "rw-------"),
        (0o444, "r--r--r--"),
        (0o421, "r---w---x"),
        (0o124, "--x-w-r--"),
        (0o070, "---rwx---"),
        (0o007, "------rwx"),
        // setuid, setgid and sticky bits are not shown (ls would print s/S/t/T): only the nine rwx bits.
        (0o4755, "rwxr-xr-x"),
        (0o2755, "rwxr-xr-x"),
        (0o1777, "rwxrwxrwx"),
        (0o7000, "---------"),
        (0o100644, "rw-r--r--"),  // file-type bits are ignored too
    ])
    func permissionStrings(mode: UInt32, text: String) {
        #expect(ListFormat.permissionString(mode) == text)
        #expect(ListFormat.line(for: facts("x", mode: mode), now: now).dropFirst().hasPrefix(text + " "))
    }

    /// `MMM dd HH:mm` (day space-padded like `ls`) within six months of now, or up to an hour in the future;
    /// `MMM dd  yyyy` otherwise.
    static let dateCases: [(Int64, String)] = [
        (now, "Nov 14 22:13"),
        (now - 3600, "Nov 14 21:13"),
        (now - 59, "Nov 14 22:12"),
        (1_698_915_900, "Nov  2 09:05"),
        (now - 182 * day + 1, "May 16 22:13"),
        (now - 182 * day, "May 16  2023"),
        (now - 200 * day, "Apr 28  2023"),
        (now + 3600, "Nov 14 23:13"),
        (now + 3601, "Nov 14  2023"),
        (now + 365 * day, "Nov 13  2024"),
        (1_609_581_600, "Jan  2  2021"),
        (0, "Jan  1  1970"),
        (-1, "Dec 31  1969"),
        (951_782_400, "Feb 29  2000"),
    ]

    @Test(arguments: dateCases)
    func dates(time: Int64, text: String) {
        #expect(ListFormat.dateString(time, now: now) == text)
        #expect(ListFormat.line(for: facts("f", modified: time), now: now).hasSuffix(" \(text) f"))
    }

    @Test func longFieldsPushTheLineRightInsteadOfBeingCut() {
        let big = facts(
            "big file.iso",
            size: 12_345_678_901_234,
            mode: 0o600,
            linkCount: 12345,
            owner: "verylongowner",
            group: "staffgroupname"
        )
        #expect(
            ListFormat.line(for: big, now: now)
                == "-rw------- 12345 verylongowner staffgroupname 12345678901234 Nov 14 21:13 big file.iso"
        )
        let largest = facts("max", size: Int64.max)
        #expect(
            ListFormat.line(for: largest, now: now)
                == "-rw-r--r--    1 ftp      ftp      9223372036854775807 Nov 14 21:13 max"
        )
    }

    /// Padding counts characters, so UTF-8 owners line up in a terminal; names are appended verbatim.
    @Test func utf8OwnersAndNames() {
        let line = ListFormat.line(for: facts("résumé 📄.pdf", owner: "jörg", group: "grüppe"), now: now)
        #expect(line == "-rw-r--r--    1 jörg     grüppe               0 Nov 14 21:13 résumé 📄.pdf")
    }

    @Test(arguments: ["my file.txt", " leading", "trailing ", "a  b", "-rf", "日本語.txt", "x;y=z"])
    func namesAreAppendedVerbatim(name: String) {
        let line = ListFormat.line(for: facts(name), now: now)
        #expect(line.hasSuffix("Nov 14 21:13 " + name))
    }

    @Test func padding() {
        #expect(ListFormat.padLeft("1", 4) == "   1")
        #expect(ListFormat.padLeft("12345", 4) == "12345")
        #expect(ListFormat.padRight("ftp", 8) == "ftp     ")
        #expect(ListFormat.padRight("abcdefghij", 8) == "abcdefghij")
        #expect(ListFormat.twoDigits(0) == "00")
        #expect(ListFormat.twoDigits(9) == "09")
        #expect(ListFormat.twoDigits(10) == "10")
    }

    /// The time-of-day form against Foundation's formatter, for entries right now across many dates.
    @Test func recentDatesMatchFoundation() {
        let month = formatter("MMM")
        let dayOfMonth = formatter("d")
        let time = formatter("HH:mm")
        var generator = SplitMix64(seed: 42)
        for _ in 0..<1500 {
            let t = Int64.random(in: -2_000_000_000...6_000_000_000, using: &generator)
            let date = Date(timeIntervalSince1970: TimeInterval(t))
            let dayText = dayOfMonth.string(from: date)
            let expected =
                month.string(from: date) + " " + (dayText.count == 1 ? " " : "") + dayText + " "
                + time.string(from: date)
            #expect(ListFormat.dateString(t, now: t) == expected, "t = \(t)")
            #expect(ListFormat.dateString(t, now: t + 100 * day).hasSuffix(time.string(from: date)))
        }
    }

    /// The year form against Foundation's formatter.
    @Test func oldDatesMatchFoundation() {
        let month = formatter("MMM")
        let dayOfMonth = formatter("d")
        let year = formatter("yyyy")
        var generator = SplitMix64(seed: 7)
        for _ in 0..<1500 {
            let t = Int64.random(in: -2_000_000_000...6_000_000_000, using: &generator)
            let date = Date(timeIntervalSince1970: TimeInterval(t))
            let dayText = dayOfMonth.string(from: date)
            let expected =
                month.string(from: date) + " " + (dayText.count == 1 ? " " : "") + dayText + "  "
                + year.string(from: date)
            #expect(ListFormat.dateString(t, now: t + 400 * day) == expected, "t = \(t)")
            #expect(ListFormat.dateString(t, now: t - 2 * 3600) == expected, "future t = \(t)")
        }
    }
}

@Suite("MLSFormat and MLSFact")
struct MLSFormatTests {
    static let all = Set(MLSFact.allCases)

    @Test func allFactsForAFile() {
        let line = MLSFormat.line(for: facts("report.txt", size: 1234, modified: now), facts: Self.all)
        #expect(line == "type=file;size=1234;modify=20231114221320;perm=adfwr;unique=803g1a2; report.txt")
    }

    @Test func selectionsKeepTheLineOrderWhateverTheirOrder() {
        #expect(MLSFact.ordered([.unique, .type, .modify]) == [.type, .modify, .unique])
        #expect(MLSFact.ordered([]) == [])
        #expect(MLSFact.ordered(Self.all) == MLSFact.allCases)
        let file = facts("a b.txt", size: 7, modified: now)
        var bytes: [UInt8] = []
        MLSFormat.write(file, ordered: [.perm, .size], into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == "perm=adfwr;size=7; a b.txt")
        #expect(MLSFormat.line(for: file, facts: [.size, .perm]) == "size=7;perm=adfwr; a b.txt")
    }

    @Test func directoriesHaveNoSize() {
        let dir = facts("docs", .directory, size: 4096, modified: now, mode: 0o755)
        #expect(
            MLSFormat.line(for: dir, facts: Self.all)
                == "type=dir;modify=20231114221320;perm=cdfmpel;unique=803g1a2; docs"
        )
        #expect(MLSFormat.line(for: dir, facts: [.size]) == " docs")
    }

    @Test(arguments: [
        (MLSFormat.Role.entry, "dir"), (.currentDirectory, "cdir"), (.parentDirectory, "pdir"),
    ])
    func directoryRoles(role: MLSFormat.Role, type: String) {
        let dir = facts(".", .directory, modified: now, mode: 0o755)
        #expect(MLSFormat.line(for: dir, facts: [.type], role: role) == "type=\(type); .")
        #expect(MLSFormat.typeValue(.directory, role: role) == type)
    }

    /// Only directories have a role; other kinds keep their type whatever the role.
    @Test(arguments: [MLSFormat.Role.entry, .currentDirectory, .parentDirectory])
    func nonDirectoryTypes(role: MLSFormat.Role) {
        #expect(MLSFormat.typeValue(.file, role: role) == "file")
        #expect(MLSFormat.typeValue(.symlink, role: role) == "OS.unix=symlink")
        #expect(MLSFormat.typeValue(.other, role: role) == "OS.unix=special")
    }

    @Test func symlinkAndSpecialLines() {
        let link = facts("link", .symlink, size: 11, modified: now, mode: 0o777)
        #expect(
            MLSFormat.line(for: link, facts: Self.all)
                == "type=OS.unix=symlink;modify=20231114221320;perm=adfwr;unique=803g1a2; link"
        )
        let fifo = facts("fifo", .other, size: 0, modified: now, mode: 0o600, writable: false)
        #expect(
            MLSFormat.line(for: fifo, facts: Self.all)
                == "type=OS.unix=special;modify=20231114221320;perm=r;unique=803g1a2; fifo"
        )
    }

    static let selections: [(Set<MLSFact>, String)] = [
        ([], " f.txt"),
        ([.type], "type=file; f.txt"),
        ([.size], "size=7; f.txt"),
        ([.modify], "modify=20231114221320; f.txt"),
        ([.perm], "perm=adfwr; f.txt"),
        ([.unique], "unique=803g1a2; f.txt"),
        ([.unique, .type], "type=file;unique=803g1a2; f.txt"),
        ([.perm, .size, .modify], "size=7;modify=20231114221320;perm=adfwr; f.txt"),
    ]

    @Test(arguments: selections)
    func selectedFactsOnly(enabled: Set<MLSFact>, line: String) {
        #expect(MLSFormat.line(for: facts("f.txt", size: 7, modified: now), facts: enabled) == line)
    }

    @Test(arguments: ["my file.txt", " leading space", "résumé 📄", "a;b=c", "-"])
    func namesFollowASingleSpace(name: String) {
        #expect(MLSFormat.line(for: facts(name, modified: now), facts: [.type]) == "type=file; " + name)
    }

    @Test(arguments: [
        // Directories: c d f m p when writable, e with the owner x bit, l with the owner r bit.
        (FileFacts.Kind.directory, UInt32(0o755), true, "cdfmpel"),
        (.directory, 0o755, false, "el"),
        (.directory, 0o300, true, "cdfmpe"),
        (.directory, 0o400, false, "l"),
        (.directory, 0o000, false, ""),
        (.directory, 0o077, true, "cdfmp"),  // group/other bits do not count
        // Files and everything else: a d f w when writable, r with the owner r bit.
        (.file, 0o644, true, "adfwr"),
        (.file, 0o200, true, "adfw"),
        (.file, 0o444, false, "r"),
        (.file, 0o000, false, ""),
        (.file, 0o044, true, "adfw"),
        (.symlink, 0o777, true, "adfwr"),
        (.other, 0o600, false, "r"),
    ])
    func permValues(kind: FileFacts.Kind, mode: UInt32, writable: Bool, perm: String) {
        let entry = facts("x", kind, mode: mode, writable: writable)
        #expect(MLSFormat.permValue(entry) == perm)
        #expect(MLSFormat.line(for: entry, facts: [.perm]) == "perm=\(perm); x")
    }

    @Test func factOrder() {
        #expect(MLSFact.allCases == [.type, .size, .modify, .perm, .unique])
        #expect(MLSFact.allCases.map(\.rawValue) == ["type", "size", "modify", "perm", "unique"])
    }

    static let featLines: [(Set<MLSFact>, String)] = [
        (Set(MLSFact.allCases), "MLST type*;size*;modify*;perm*;unique*;"),
        ([.type, .size], "MLST type*;size*;modify;perm;unique;"),
        ([.unique], "MLST type;size;modify;perm;unique*;"),
        ([], "MLST type;size;modify;perm;unique;"),
    ]

    @Test(arguments: featLines)
    func featLine(enabled: Set<MLSFact>, line: String) {
        #expect(MLSFact.featLine(enabled: enabled) == line)
    }

    static let selectionTexts: [(String, Set<MLSFact>)] = [
        ("type;size;", [.type, .size]),
        ("type;size", [.type, .size]),
        ("TYPE;Size;MoDiFy;", [.type, .size, .modify]),
        ("type;bogus;perm;", [.type, .perm]),
        ("type;type;", [.type]),
        ("unique", [.unique]),
        ("type;size;modify;perm;unique;", Set(MLSFact.allCases)),
        ("", []),
        (";;;", []),
        ("media-type;charset;", []),
        ("type*;", []),
    ]

    @Test(arguments: selectionTexts)
    func parseSelection(text: String, expected: Set<MLSFact>) {
        #expect(MLSFact.parseSelection(text) == expected)
    }

    static let canonicalTexts: [(Set<MLSFact>, String)] = [
        ([.size, .type], "type;size;"),
        ([.unique, .modify], "modify;unique;"),
        ([], ""),
        (Set(MLSFact.allCases), "type;size;modify;perm;unique;"),
    ]

    @Test(arguments: canonicalTexts)
    func selectionText(facts: Set<MLSFact>, text: String) {
        #expect(MLSFact.selectionText(facts) == text)
        #expect(MLSFact.parseSelection(text) == facts)
    }
}

@Suite("CivilTime and MLSFormat.timeValue")
struct CivilTimeTests {
    @Test(arguments: [
        (Int64(0), "19700101000000"),
        (951_782_400, "20000229000000"),  // leap day of a century leap year
        (1_700_000_000, "20231114221320"),
        (-1, "19691231235959"),
        (-86_400, "19691231000000"),
        (-86_401, "19691230235959"),
        (68_169_600, "19720229000000"),
        (946_684_799, "19991231235959"),
        (946_684_800, "20000101000000"),
        (1_582_934_400, "20200229000000"),
        (1_709_164_800, "20240229000000"),
        (2_147_483_647, "20380119031407"),
        (2_147_483_648, "20380119031408"),
        (4_107_456_000, "21000228000000"),  // 2100 is not a leap year...
        (4_107_542_400, "21000301000000"),  // ...so Feb 28 is followed by Mar 1
        (13_574_563_200, "24000229000000"),  // 2400 is
        (-2_203_977_600, "19000228000000"),  // 1900 is not
        (-2_203_891_200, "19000301000000"),
        (-2_208_988_800, "19000101000000"),
        (-2_077_747_200, "19040229000000"),
        (-11_676_096_000, "16000101000000"),
        (-62_135_596_800, "00010101000000"),
        (253_402_300_799, "99991231235959"),
    ])
    func knownEpochs(time: Int64, value: String) {
        #expect(MLSFormat.timeValue(time) == value)
        let civil = CivilTime(epochSeconds: time)
        let digits = Array(value)
        #expect(civil.year == Int(String(digits[0..<4])))
        #expect(civil.month == Int(String(digits[4..<6])))
        #expect(civil.day == Int(String(digits[6..<8])))
        #expect(civil.hour == Int(String(digits[8..<10])))
        #expect(civil.minute == Int(String(digits[10..<12])))
        #expect(civil.second == Int(String(digits[12..<14])))
    }

    @Test func fieldsOfATime() {
        let epoch = CivilTime(epochSeconds: 0)
        #expect(
            [epoch.year, epoch.month, epoch.day, epoch.hour, epoch.minute, epoch.second] == [1970, 1, 1, 0, 0, 0]
                as [Int]
        )
        let leap = CivilTime(epochSeconds: 951_782_400 + 3661)
        #expect(
            [leap.year, leap.month, leap.day, leap.hour, leap.minute, leap.second] == [2000, 2, 29, 1, 1, 1] as [Int]
        )
        #expect(CivilTime(epochSeconds: 59).second == 59)
        #expect(CivilTime(epochSeconds: 60).minute == 1)
        #expect(CivilTime(epochSeconds: -1).hour == 23)
    }

    /// Consecutive days never skip or repeat a date, across leap years and the epoch.
    @Test func daysAreContiguous() {
        var previous = CivilTime(epochSeconds: -200 * 365 * day)
        for index in (-200 * 365 + 1)...(400 * 365) {
            let current = CivilTime(epochSeconds: Int64(index) * day)
            let nextDayOfSameMonth =
                current.year == previous.year && current.month == previous.month
                && current.day == previous.day + 1
            let firstOfNextMonth =
                current.day == 1
                && ((current.year == previous.year && current.month == previous.month + 1)
                    || (current.year == previous.year + 1 && current.month == 1 && previous.month == 12))
            if !(nextDayOfSameMonth || firstOfNextMonth) || current.hour != 0 || current.minute != 0
                || current.second != 0
            {
                Issue.record("day index \(index): \(previous) -> \(current)")
                return
            }
            previous = current
        }
    }

    /// Against Foundation's Gregorian calendar in UTC, from 1600 (after the Julian cut-over Foundation applies
    /// before 1582) to 9999.
    @Test func matchesFoundation() {
        let calendar = gregorianUTC()
        let stamp = formatter("yyyyMMddHHmmss")
        var times: [Int64] = [0, -1, 1, 951_782_400, 1_700_000_000]
        var generator = SplitMix64(seed: 1)
        for _ in 0..<3000 {
            times.append(Int64.random(in: -11_676_096_000...253_402_300_799, using: &generator))
        }
        // Around year and leap-day boundaries.
        for year in stride(from: 1600, through: 2800, by: 1) {
            for (month, dayOfMonth) in [(1, 1), (3, 1)] {
                let date = calendar.date(from: DateComponents(year: year, month: month, day: dayOfMonth))!
                let t = Int64(date.timeIntervalSince1970)
                times += [t - 1, t, t + 1]
            }
        }
        for t in times {
            let date = Date(timeIntervalSince1970: TimeInterval(t))
            #expect(MLSFormat.timeValue(t) == stamp.string(from: date), "t = \(t)")
            let components = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
            let civil = CivilTime(epochSeconds: t)
            let ours: [Int] = [civil.year, civil.month, civil.day, civil.hour, civil.minute, civil.second]
            let theirs: [Int?] = [
                components.year, components.month, components.day, components.hour, components.minute,
                components.second,
            ]
            #expect(
                ours.map(Optional.some) == theirs,
                "t = \(t)"
            )
        }
    }

    @Test func extremeTimesDoNotTrap() {
        // Far outside any file system's range; only checks the arithmetic does not overflow.
        _ = CivilTime(epochSeconds: Int64.max)
        _ = CivilTime(epochSeconds: Int64.min)
        _ = MLSFormat.timeValue(Int64.max)
        _ = MLSFormat.timeValue(Int64.min + 1)
        // Year 10000 needs a fifth digit.
        #expect(MLSFormat.timeValue(253_402_300_800) == "100000101000000")
    }
}
