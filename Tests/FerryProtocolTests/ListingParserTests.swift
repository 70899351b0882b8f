import Testing

@testable import FerryProtocol

/// 2023-11-14 22:13:20 UTC.
private let now: Int64 = 1_700_000_000
private let day: Int64 = 86_400

private func epoch(
    _ year: Int,
    _ month: Int,
    _ day: Int,
    _ hour: Int = 0,
    _ minute: Int = 0,
    _ second: Int = 0
)
    -> Int64
{
    ListingParser.epoch(year: year, month: month, day: day, hour: hour, minute: minute, second: second)!
}

@Suite("ListingParserTests")
struct ListingParserTests {
    // MARK: - Dates

    @Test("civil time to epoch is the inverse of CivilTime")
    func epochInverse() {
        for time: Int64 in [0, 86_399, 951_782_400, 1_700_000_000, 4_102_444_800, -86_400, 1_709_164_800] {
            let civil = CivilTime(epochSeconds: time)
            let back = ListingParser.epoch(
                year: civil.year,
                month: civil.month,
                day: civil.day,
                hour: civil.hour,
                minute: civil.minute,
                second: civil.second
            )
            #expect(back == time)
        }
        #expect(ListingParser.epoch(year: 2023, month: 2, day: 29, hour: 0, minute: 0, second: 0) == nil)
        #expect(ListingParser.epoch(year: 2024, month: 2, day: 29, hour: 0, minute: 0, second: 0) != nil)
        #expect(ListingParser.epoch(year: 2024, month: 13, day: 1, hour: 0, minute: 0, second: 0) == nil)
    }

    @Test("MLSx time values, with and without fractions")
    func timeValues() {
        #expect(ListingParser.parseTimeValue("20231114221320") == now)
        #expect(ListingParser.parseTimeValue("20231114221320.123") == now)
        #expect(ListingParser.parseTimeValue("19700101000000") == 0)
        #expect(ListingParser.parseTimeValue("2023111422132") == nil)
        #expect(ListingParser.parseTimeValue("20231314221320") == nil)
        #expect(ListingParser.parseTimeValue("2023111422132x") == nil)
        #expect(ListingParser.parseTimeValue("20231114221320.x") == nil)
    }

    // MARK: - MLSx

    @Test("pure-ftpd MLSD, with cdir and pdir")
    func pureFTPdMLSD() throws {
        let listing = """
            type=cdir;sizd=4096;modify=20231114221320;UNIX.mode=0755;UNIX.uid=1000;UNIX.gid=1000;unique=803g2a; .\r
            type=pdir;sizd=4096;modify=20231001000000;UNIX.mode=0755;UNIX.uid=0;UNIX.gid=0;unique=803g2; ..\r
            type=file;size=1234;modify=20231114221320;UNIX.mode=0644;UNIX.uid=1000;UNIX.gid=1000;unique=803g1a2; report.txt\r
            type=dir;sizd=4096;modify=20231114221320;UNIX.mode=2775;UNIX.uid=1000;UNIX.gid=1000;unique=803g1a3; My Documents\r

            """
        let entries = ListingParser.parse(listing: listing, machine: true, now: now)
        #expect(entries.count == 4)
        #expect(entries.map(\.isCurrentOrParent) == [true, true, false, false])
        #expect(entries[0].kind == .directory)
        #expect(entries[1].kind == .directory)
        let file = entries[2]
        #expect(file.name == "report.txt")
        #expect(file.kind == .file)
        #expect(file.size == 1234)
        #expect(file.modified == now)
        #expect(file.permissions == "rw-r--r--")
        #expect(file.facts["unix.uid"] == "1000")
        #expect(file.facts["unique"] == "803g1a2")
        let directory = entries[3]
        #expect(directory.name == "My Documents")
        #expect(directory.kind == .directory)
        #expect(directory.size == 4096)
        #expect(directory.permissions == "rwxrwsr-x")
    }

    @Test("ProFTPD MLSD: facts in its order, both symlink styles")
    func proFTPdMLSD() throws {
        let file = try #require(
            ListingParser.parseMLSx(
                "modify=20231114221320;perm=adfrw;size=1234;type=file;unique=FD01U3A2B;UNIX.group=1000;"
                    + "UNIX.groupname=ftp;UNIX.mode=0644;UNIX.owner=1000;UNIX.ownername=ftp; report.txt"
            )
        )
        #expect(file.kind == .file)
        #expect(file.size == 1234)
        #expect(file.modified == now)
        #expect(file.facts["perm"] == "adfrw")
        #expect(file.facts["unix.ownername"] == "ftp")

        let slink = try #require(
            ListingParser.parseMLSx(
                "modify=20231114221320;perm=adfr;size=9;type=OS.unix=slink:/srv/data/target; latest"
            )
        )
        #expect(slink.kind == .symlink)
        #expect(slink.linkTarget == "/srv/data/target")
        #expect(slink.name == "latest")

        let symlink = try #require(
            ListingParser.parseMLSx("modify=20231114221320;perm=adfr;size=9;type=OS.unix=symlink; latest")
        )
        #expect(symlink.kind == .symlink)
        #expect(symlink.linkTarget == nil)

        let directory = try #require(
            ListingParser.parseMLSx("modify=20231114221320;perm=flcdmpe;type=dir;unique=FD01U3A2C;UNIX.mode=0755; src")
        )
        #expect(directory.kind == .directory)
        #expect(directory.size == nil)
    }

    @Test("IIS and FileZilla Server MLSD: capitalised facts and millisecond times")
    func iisAndFileZillaMLSD() throws {
        let iis = try #require(ListingParser.parseMLSx("Type=file;Size=1234;Modify=20231114221320.123; file name.txt"))
        #expect(iis.kind == .file)
        #expect(iis.size == 1234)
        #expect(iis.modified == now)
        #expect(iis.name == "file name.txt")
        #expect(iis.facts["type"] == "file")

        let iisDirectory = try #require(ListingParser.parseMLSx("Type=dir;Modify=20210207100500.000; My Dir"))
        #expect(iisDirectory.kind == .directory)
        #expect(iisDirectory.modified == epoch(2021, 2, 7, 10, 5))

        let fileZilla = try #require(
            ListingParser.parseMLSx("type=file;size=1073741824;modify=20231114221320.5;perm=adfrw; big.iso")
        )
        #expect(fileZilla.size == 1 << 30)
        #expect(fileZilla.modified == now)
    }

    @Test("MLSx names keep spaces and semicolons; MLST lines with a leading space; no facts")
    func mlsxNames() throws {
        #expect(ListingParser.parseMLSx("type=file;size=1; a; b ")?.name == "a; b ")
        #expect(ListingParser.parseMLSx("type=file;size=1;  leading space")?.name == " leading space")
        #expect(ListingParser.parseMLSx("type=file;size=1; ünïcödé 名前.txt")?.name == "ünïcödé 名前.txt")
        let mlst = try #require(ListingParser.parseMLSx(" type=file;size=5;modify=20231114221320; /home/a.txt"))
        #expect(mlst.name == "/home/a.txt")
        #expect(mlst.size == 5)
        // A value with a space (some servers put owner names there) still finds the name.
        #expect(ListingParser.parseMLSx("type=file;UNIX.owner=John Smith;size=3; x y")?.name == "x y")
        // No final ";" before the name.
        #expect(ListingParser.parseMLSx("type=file;size=3 name")?.name == "name")
        // No facts at all: a space and the name.
        let bare = try #require(ListingParser.parseMLSx(" just a name"))
        #expect(bare.name == "just a name")
        #expect(bare.kind == .other)
        #expect(ListingParser.parseMLSx("type=file;size=3;\r\n")?.name == nil)
    }

    /// Found by Fuzz/FuzzListing: with only facts selected that do not apply to an entry (`OPTS MLST size;` and a
    /// directory), a server writes " name"; a name whose first word looked like a fact was split at that word.
    @Test("a line without facts keeps a name that looks like a fact")
    func bareNameLikeAFact() throws {
        #expect(ListingParser.parseMLSx(" a=b c")?.name == "a=b c")
        #expect(ListingParser.parseMLSx(" type=file;size=1 x")?.name == "type=file;size=1 x")
        let directory = FileFacts(name: "x=1 y", kind: .directory, size: 0, modified: now, mode: 0o755, unique: "1")
        let line = MLSFormat.line(for: directory, facts: [.size])
        #expect(line == " x=1 y")
        let entry = try #require(ListingParser.parseMLSx(line))
        #expect(entry.name == "x=1 y")
        #expect(entry.facts.isEmpty)
        // An MLST line with facts is still read as facts, also with a space inside a value.
        #expect(ListingParser.parseMLSx(" type=file;UNIX.owner=John Smith;size=3; x y")?.name == "x y")
    }

    @Test(
        "unparseable MLSx lines give nil",
        arguments: ["", "hello world", "nofacts", "type=file;size=3;", "=x; name"]
    )
    func mlsxGarbage(line: String) {
        #expect(ListingParser.parseMLSx(line) == nil)
    }

    @Test("MLSx kinds and sizes")
    func mlsxKinds() {
        #expect(ListingParser.parseMLSx("type=OS.unix=chr-1/3; null")?.kind == .other)
        #expect(ListingParser.parseMLSx("type=OS.unix=special; fifo")?.kind == .other)
        #expect(ListingParser.parseMLSx("size=3; untyped")?.kind == .other)
        #expect(ListingParser.parseMLSx("type=file;size=-3; negative")?.size == nil)
        #expect(ListingParser.parseMLSx("type=file;size=abc; bad")?.size == nil)
        #expect(ListingParser.parseMLSx("type=file;modify=bad; bad")?.modified == nil)
        #expect(ListingParser.parseMLSx("type=file;UNIX.mode=4755; suid")?.permissions == "rwsr-xr-x")
        #expect(ListingParser.parseMLSx("type=dir;UNIX.mode=1777; tmp")?.permissions == "rwxrwxrwt")
        #expect(ListingParser.parseMLSx("type=file;size=9223372036854775807; max")?.size == Int64.max)
    }

    // MARK: - Unix LIST

    @Test("vsftpd LIST (zero-padded days, numeric owners)")
    func vsftpd() throws {
        let listing = """
            -rw-r--r--    1 1000     1000         1234 Nov 14 19:09 report.txt
            drwxr-xr-x    2 0        0            4096 Jan 02  2021 old
            lrwxrwxrwx    1 0        0               7 Oct 01 12:00 link -> target file
            -rw-------    1 1000     1000            0 Feb 29  2020 leap.txt

            """
        let entries = ListingParser.parse(listing: listing, machine: false, now: now)
        #expect(entries.count == 4)
        #expect(
            entries[0]
                == RemoteEntry(
                    name: "report.txt",
                    kind: .file,
                    size: 1234,
                    modified: epoch(2023, 11, 14, 19, 9),
                    permissions: "rw-r--r--"
                )
        )
        #expect(entries[1].name == "old")
        #expect(entries[1].kind == .directory)
        #expect(entries[1].modified == epoch(2021, 1, 2))
        #expect(entries[2].kind == .symlink)
        #expect(entries[2].name == "link")
        #expect(entries[2].linkTarget == "target file")
        #expect(entries[2].modified == epoch(2023, 10, 1, 12, 0))
        #expect(entries[3].size == 0)
        #expect(entries[3].modified == epoch(2020, 2, 29))
    }

    @Test("pure-ftpd and ProFTPD LIST, with . and .. and a total line")
    func pureAndProFTPd() throws {
        let listing = """
            total 24\r
            drwxr-xr-x    3 1000       1000             4096 Nov 14 19:09 .\r
            drwxr-xr-x    5 0          0                4096 Oct  1 08:00 ..\r
            -rw-r--r--    1 user       group        12345678 Dec 31  2019 big.iso\r
            -rw-r--r--   1 ftp      ftp          1234 Nov  3 09:05 two  spaces  .txt\r
            -rw-r--r--+  1 ftp      ftp            10 Nov  3 09:05 acl.txt\r

            """
        let entries = ListingParser.parse(listing: listing, machine: false, now: now)
        #expect(entries.map(\.name) == [".", "..", "big.iso", "two  spaces  .txt", "acl.txt"])
        #expect(entries.map(\.isCurrentOrParent) == [true, true, false, false, false])
        #expect(entries[2].size == 12_345_678)
        #expect(entries[2].modified == epoch(2019, 12, 31))
        #expect(entries[3].modified == epoch(2023, 11, 3, 9, 5))
        #expect(entries[4].permissions == "rw-r--r--")
    }

    @Test("LIST without a group column, devices, and odd owners")
    func unixVariants() throws {
        let noGroup = try #require(
            ListingParser.parseLIST("-rw-r--r--   1 owner        1234 Nov 14 19:09 file.txt", now: now)
        )
        #expect(noGroup.name == "file.txt")
        #expect(noGroup.size == 1234)

        let device = try #require(ListingParser.parseLIST("crw-rw-rw- 1 root root 1, 3 Jan 1 2020 null", now: now))
        #expect(device.kind == .other)
        #expect(device.size == nil)
        #expect(device.name == "null")
        #expect(device.modified == epoch(2020, 1, 1))

        let packedDevice = try #require(ListingParser.parseLIST("brw-rw---- 1 root disk 8,0 Jan 1 2020 sda", now: now))
        #expect(packedDevice.kind == .other)
        #expect(packedDevice.name == "sda")

        // An owner called like a month does not confuse the date search.
        let jan = try #require(ListingParser.parseLIST("-rw-r--r-- 1 jan may 42 Mar  5  2022 notes", now: now))
        #expect(jan.size == 42)
        #expect(jan.modified == epoch(2022, 3, 5))
        #expect(jan.name == "notes")

        // A name that itself looks like a date.
        let dated = try #require(ListingParser.parseLIST("-rw-r--r-- 1 a b 7 Mar  5  2022 Jan 1 2020 x", now: now))
        #expect(dated.name == "Jan 1 2020 x")

        // ls --time-style=long-iso.
        let iso = try #require(ListingParser.parseLIST("-rw-r--r-- 1 a b 7 2022-03-05 14:07 iso name", now: now))
        #expect(iso.name == "iso name")
        #expect(iso.modified == epoch(2022, 3, 5, 14, 7))

        // " -> " in a regular file's name is kept.
        #expect(ListingParser.parseLIST("-rw-r--r-- 1 a b 7 Mar  5  2022 a -> b", now: now)?.name == "a -> b")
        // Sticky and setuid bits.
        #expect(ListingParser.parseLIST("drwxrwxrwt 1 a b 7 Mar  5  2022 tmp", now: now)?.permissions == "rwxrwxrwt")
    }

    @Test("a date without a year is the latest one no more than six months ahead of now")
    func yearGuess() throws {
        func modified(_ date: String, now: Int64) -> Int64? {
            ListingParser.parseLIST("-rw-r--r-- 1 a b 1 \(date) f", now: now)?.modified
        }
        // now is 2023-11-14.
        #expect(modified("Nov 14 22:13", now: now) == epoch(2023, 11, 14, 22, 13))
        #expect(modified("Nov 15 10:00", now: now) == epoch(2023, 11, 15, 10, 0))  // slightly ahead (clock skew)
        #expect(modified("Jan  2 10:00", now: now) == epoch(2024, 1, 2, 10, 0))  // within six months ahead
        #expect(modified("Jun  1 10:00", now: now) == epoch(2023, 6, 1, 10, 0))
        #expect(modified("May 15 10:00", now: now) == epoch(2024, 5, 15, 10, 0))
        #expect(modified("May 16 10:00", now: now) == epoch(2023, 5, 16, 10, 0))
        // On New Year's Day, December is last year's.
        let newYear = epoch(2024, 1, 1, 0, 30)
        #expect(modified("Dec 31 23:59", now: newYear) == epoch(2023, 12, 31, 23, 59))
        #expect(modified("Jan  1 00:10", now: newYear) == epoch(2024, 1, 1, 0, 10))
        // Feb 29 goes to a leap year.
        #expect(modified("Feb 29 12:00", now: epoch(2025, 3, 1)) == epoch(2024, 2, 29, 12, 0))
    }

    /// Found by Fuzz/FuzzListing: Ferry writes a time of day for dates up to 182 days old; one written a few seconds
    /// inside that window, truncated to its minute, was read back a year in the future.
    @Test("Ferry's oldest LIST line with a time of day reads back in its own year")
    func yearGuessAtTheWriterWindow() throws {
        // 2026-11-26: no February 29 between the written date and a year after it, so that year is 365 days.
        let today = epoch(2026, 11, 26, 19, 9, 12)
        let written = today - 182 * day + 1
        let facts = FileFacts(name: "f", kind: .file, size: 1, modified: written, mode: 0o644, unique: "1")
        let line = ListFormat.line(for: facts, now: today)
        #expect(line.hasSuffix("May 28 19:09 f"))
        let entry = try #require(ListingParser.parseLIST(line, now: today))
        #expect(entry.modified == written - written % 60)
    }

    @Test(
        "unparseable LIST lines give nil",
        arguments: [
            "", "total 0", "total 1234", "hello world", "-rw-r--r-- 1 a b 12 Nox 14 19:09 x",
            "-rw-r--r-- 1 a b 12 Nov 14 19:09", "-rw-r--r-- 1 a b 12 Nov 32 19:09 x",
            "-rw-r--r-- 1 a b 12 Nov 14 25:09 x",
            "xrw-r--r-- 1 a b 12 Nov 14 19:09 x", "-rw-r--r-- 1 a b twelve Nov 14 19:09 x", "12-99-21  10:05AM  1 x",
            "02-07-21  13:05PM  1 x", "02-07-21  10:05AM  12a x", "02-07-21  10:05AM", "550 No files found",
        ]
    )
    func listGarbage(line: String) {
        #expect(ListingParser.parseLIST(line, now: now) == nil)
    }

    // MARK: - DOS / IIS

    @Test("IIS DOS listing: 2-digit years, AM/PM, <DIR>, names with spaces")
    func iisDOS() throws {
        let listing = """
            11-26-26  07:09PM       <DIR>          My Dir\r
            02-07-21  10:05AM                 1234 file name.txt\r
            02-07-21  12:05AM                    0 midnight.txt\r
            02-07-21  12:30PM                    5 noon.txt\r
            01-01-99  01:00AM                    5 old.txt\r

            """
        let entries = ListingParser.parse(listing: listing, machine: false, now: now)
        #expect(entries.count == 5)
        #expect(entries[0] == RemoteEntry(name: "My Dir", kind: .directory, modified: epoch(2026, 11, 26, 19, 9)))
        #expect(
            entries[1]
                == RemoteEntry(name: "file name.txt", kind: .file, size: 1234, modified: epoch(2021, 2, 7, 10, 5))
        )
        #expect(entries[2].modified == epoch(2021, 2, 7, 0, 5))
        #expect(entries[3].modified == epoch(2021, 2, 7, 12, 30))
        #expect(entries[4].modified == epoch(1999, 1, 1, 1, 0))
    }

    @Test("DOS listing: 4-digit years, 24-hour times, ISO dates, grouped sizes")
    func dosVariants() throws {
        let fourDigits = try #require(
            ListingParser.parseLIST("11-26-2026  07:09PM       <DIR>          My Dir", now: now)
        )
        #expect(fourDigits.modified == epoch(2026, 11, 26, 19, 9))
        #expect(fourDigits.kind == .directory)
        let twentyFour = try #require(
            ListingParser.parseLIST("02-07-21  19:05                 1234 report 2.pdf", now: now)
        )
        #expect(twentyFour.modified == epoch(2021, 2, 7, 19, 5))
        #expect(twentyFour.name == "report 2.pdf")
        let iso = try #require(ListingParser.parseLIST("2021-02-07  19:05    <DIR>   data", now: now))
        #expect(iso.modified == epoch(2021, 2, 7, 19, 5))
        #expect(iso.kind == .directory)
        let grouped = try #require(ListingParser.parseLIST("02-07-21  10:05AM            1,234,567 big.bin", now: now))
        #expect(grouped.size == 1_234_567)
        let junction = try #require(ListingParser.parseLIST("02-07-21  10:05AM    <JUNCTION>     Link", now: now))
        #expect(junction.kind == .other)
    }

    // MARK: - FileZilla Server

    @Test("FileZilla Server LIST")
    func fileZillaServer() throws {
        let listing = """
            -rw-r--r-- 1 ftp ftp         1234 Nov 14 19:09 report.txt\r
            drwxr-xr-x 1 ftp ftp            0 Jan 02  2021 old dir\r
            """
        let entries = ListingParser.parse(listing: listing, machine: false, now: now)
        #expect(entries.map(\.name) == ["report.txt", "old dir"])
        #expect(entries[1].kind == .directory)
        #expect(entries[1].size == 0)
    }

    // MARK: - Ferry's own formats

    @Test("Ferry's LIST lines parse back to the same facts", arguments: [0, 1, 2, 3, 4, 5])
    func ferryListRoundTrip(index: Int) throws {
        let samples: [FileFacts] = [
            FileFacts(name: "report.txt", kind: .file, size: 1234, modified: now - 3600, mode: 0o644, unique: "1"),
            FileFacts(name: "old", kind: .directory, size: 4096, modified: now - 400 * day, mode: 0o755, unique: "2"),
            FileFacts(name: "with  spaces ", kind: .file, size: 0, modified: now - 100 * day, mode: 0o600, unique: "3"),
            FileFacts(name: "名前.txt", kind: .file, size: 1 << 40, modified: now - 200 * day, mode: 0o640, unique: "4"),
            FileFacts(
                name: "future",
                kind: .file,
                size: 5,
                modified: now + 600,
                mode: 0o644,
                linkCount: 12,
                owner: "averyveryverylongowner",
                group: "g",
                unique: "5"
            ),
            FileFacts(name: "dir x", kind: .directory, size: 0, modified: 86_400 * 365, mode: 0o1777, unique: "6"),
        ]
        let facts = samples[index]
        let line = ListFormat.line(for: facts, now: now)
        let entry = try #require(ListingParser.parseLIST(line, now: now), "\(line)")
        #expect(entry.name == facts.name)
        #expect(entry.kind == (facts.kind == .directory ? .directory : .file))
        #expect(entry.size == facts.size)
        // LIST has minutes for recent entries, days for the others.
        let truncated = (facts.modified / 60) * 60
        let recent = facts.modified > now - 182 * day && facts.modified <= now + 3600
        #expect(entry.modified == (recent ? truncated : (facts.modified / day) * day))
        #expect(entry.permissions == ListFormat.permissionString(facts.mode))
    }

    @Test("Ferry's MLSD lines parse back to the same facts")
    func ferryMLSDRoundTrip() throws {
        let all = Set(MLSFact.allCases)
        let file = FileFacts(
            name: "a b;c.txt",
            kind: .file,
            size: 987_654,
            modified: now,
            mode: 0o644,
            unique: "803g1a2"
        )
        let fileLine = MLSFormat.line(for: file, facts: all)
        let fileEntry = try #require(ListingParser.parseMLSx(fileLine))
        #expect(fileEntry.name == "a b;c.txt")
        #expect(fileEntry.kind == .file)
        #expect(fileEntry.size == 987_654)
        #expect(fileEntry.modified == now)
        #expect(fileEntry.facts["perm"] == "adfwr")
        #expect(fileEntry.facts["unique"] == "803g1a2")

        let directory = FileFacts(
            name: "docs",
            kind: .directory,
            size: 4096,
            modified: now - day,
            mode: 0o755,
            unique: "d"
        )
        for (role, parentOrCurrent) in [
            (MLSFormat.Role.entry, false), (.currentDirectory, true), (.parentDirectory, true),
        ] {
            let entry = try #require(ListingParser.parseMLSx(MLSFormat.line(for: directory, facts: all, role: role)))
            #expect(entry.kind == .directory)
            #expect(entry.isCurrentOrParent == parentOrCurrent)
            #expect(entry.size == nil)
            #expect(entry.modified == now - day)
        }

        let link = FileFacts(name: "latest", kind: .symlink, size: 7, modified: now, mode: 0o777, unique: "l")
        #expect(ListingParser.parseMLSx(MLSFormat.line(for: link, facts: all))?.kind == .symlink)
        let special = FileFacts(name: "fifo", kind: .other, size: 0, modified: now, mode: 0o644, unique: "s")
        #expect(ListingParser.parseMLSx(MLSFormat.line(for: special, facts: all))?.kind == .other)

        // Only some facts enabled, and the quota extras of MLST /.
        let partial = MLSFormat.line(for: file, facts: [.size], extra: [("x.quota", "1000")])
        let partialEntry = try #require(ListingParser.parseMLSx(partial))
        #expect(partialEntry.size == 987_654)
        #expect(partialEntry.kind == .other)
        #expect(partialEntry.facts["x.quota"] == "1000")
        // As an MLST reply line (leading space).
        #expect(ListingParser.parseMLSx(" " + fileLine)?.name == "a b;c.txt")
    }

    @Test("parse splits on CRLF and LF and skips junk")
    func parseMixed() {
        let text = "type=file;size=1; a\r\ntype=file;size=2; b\nnot facts\n\n type=dir; c\r\n"
        let entries = ListingParser.parse(listing: text, machine: true, now: now)
        #expect(entries.map(\.name) == ["a", "b", "c"])
        #expect(ListingParser.parse(listing: "", machine: false, now: now).isEmpty)
    }

    // Found by Fuzz/FuzzListing: a name that starts with a combining mark (U+0301 here) forms one Character with the
    // space before it, so splitting on Characters dropped the entry or glued that space to the name. The parsers split
    // on Unicode scalars, as the server writes the line.
    @Test("names that start with a combining mark, in LIST (Unix and DOS) and MLSD")
    func combiningMarkNames() throws {
        let name = "\u{301}x y"
        let unix = try #require(
            ListingParser.parseLIST("-rw-r--r--    1 ftp      ftp          1234 Nov 14 22:13 \(name)", now: now)
        )
        #expect(Array(unix.name.unicodeScalars) == Array(name.unicodeScalars))
        #expect(unix.size == 1234)
        let old = try #require(ListingParser.parseLIST("drwxr-xr-x 2 ftp ftp 4096 Jan  2  2020 \(name)", now: now))
        #expect(Array(old.name.unicodeScalars) == Array(name.unicodeScalars))
        let link = try #require(
            ListingParser.parseLIST("lrwxrwxrwx 1 ftp ftp 7 Nov 14 22:13 a -> \u{301}target", now: now)
        )
        #expect(link.name == "a")
        #expect(link.linkTarget.map { Array($0.unicodeScalars) } == Array("\u{301}target".unicodeScalars))
        let dos = try #require(ListingParser.parseLIST("11-14-23  10:13PM       <DIR>          \(name)", now: now))
        #expect(Array(dos.name.unicodeScalars) == Array(name.unicodeScalars))

        let machine = try #require(ListingParser.parseMLSx("type=file;size=5; \(name)"))
        #expect(Array(machine.name.unicodeScalars) == Array(name.unicodeScalars))
        #expect(machine.size == 5)
        let slink = try #require(ListingParser.parseMLSx("type=OS.unix=slink:\u{301}t; l"))
        #expect(slink.linkTarget.map { Array($0.unicodeScalars) } == Array("\u{301}t".unicodeScalars))

        // And what Ferry's own server writes for such a file reads back.
        let facts = FileFacts(name: name, kind: .file, size: 3, modified: now - day, mode: 0o644, unique: "1")
        let listed = try #require(ListingParser.parseLIST(ListFormat.line(for: facts, now: now), now: now))
        #expect(Array(listed.name.unicodeScalars) == Array(name.unicodeScalars))
        let mlsd = try #require(ListingParser.parseMLSx(MLSFormat.line(for: facts, facts: [.type, .size])))
        #expect(Array(mlsd.name.unicodeScalars) == Array(name.unicodeScalars))
    }
}
