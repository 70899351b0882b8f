// The client's listing parsers, `ListingParser` (LIST in Unix and DOS/IIS styles, MLSD/MLST), on any text a server
// can send, and on what Ferry's own server writes.
//
// Input: 1 byte flags, 8 bytes size, 8 bytes time, 2 bytes mode and role, the entry name up to a NUL byte, then a
// listing.
//
// Invariants on any listing text:
// - No trap. Every entry has a non-empty name without LF, a non-negative size, nine permission characters, and a
//   link target only when it is a symbolic link.
//   Names are returned as the server sent them: they MAY be ".", "..", or hold "/", NUL, or CR (see README.md,
//   "Fuzzing"); callers that use a name as a local path must check it.
// - The whole-listing parser gives exactly the entries of its lines.
// Round trip: an entry written by `ListFormat` (LIST) or `MLSFormat` (MLSD), as Ferry's server writes them, reads back
// with the same name, kind, size and time (LIST: to the minute, or to the day for old dates), for every name a
// client can create over FTP (not "." or ".."; no "/", NUL, CR or LF) and, for LIST symbolic links, without " -> ".
import FerryProtocol
import FuzzSupport

/// A fixed "now" (2026-11-26 19:09:12 UTC), so that LIST dates without a year reproduce.
let now: Int64 = 1_796_238_552
/// 9999-12-31 23:59:59 UTC: four-digit years only, as both formats write them.
let latest: Int64 = 253_402_300_799

func checkEntry(_ entry: RemoteEntry, _ line: Substring) {
    check(!entry.name.isEmpty, "empty name from \(line.debugDescription)")
    check(!entry.name.utf8.contains(0x0A), "a name holds LF from \(line.debugDescription)")
    check((entry.size ?? 0) >= 0, "negative size from \(line.debugDescription)")
    check(entry.permissions.map { $0.count == 9 } ?? true, "permissions \(entry.permissions ?? "") from \(line)")
    check(entry.linkTarget == nil || entry.kind == .symlink, "a link target on a \(entry.kind) from \(line)")
}

func checkListing(_ text: String) {
    let lines = text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
    for machine in [false, true] {
        var expected: [RemoteEntry] = []
        for line in lines {
            let entry =
                machine ? ListingParser.parseMLSx(String(line)) : ListingParser.parseLIST(String(line), now: now)
            if let entry {
                checkEntry(entry, line)
                expected.append(entry)
            }
        }
        check(ListingParser.parse(listing: text, machine: machine, now: now) == expected, "parse(listing:) differs")
    }
}

func permissions(_ mode: UInt32) -> String {
    String("rwxrwxrwx".enumerated().map { index, letter in mode & (0o400 >> UInt32(index)) != 0 ? letter : "-" })
}

func checkLIST(_ facts: FileFacts) {
    if facts.kind == .symlink, facts.name.firstRange(of: " -> ") != nil { return }  // ambiguous in `ls -l` itself
    let line = ListFormat.line(for: facts, now: now)
    guard let entry = ListingParser.parseLIST(line, now: now) else {
        check(false, "Ferry's LIST line \(line.debugDescription) is not read")
        return
    }
    let kind: RemoteEntry.Kind
    switch facts.kind {
    case .file, .other: kind = .file  // `ls -l` style has no letter for "other" that Ferry writes
    case .directory: kind = .directory
    case .symlink: kind = .symlink
    }
    let recent = facts.modified > now - 182 * 86_400 && facts.modified <= now + 3600
    let day = facts.modified - ((facts.modified % 86_400) + 86_400) % 86_400
    let modified = recent ? facts.modified - ((facts.modified % 60) + 60) % 60 : day
    check(
        entry.name.utf8.elementsEqual(facts.name.utf8),
        "LIST name \(facts.name.debugDescription) read as \(entry.name.debugDescription)"
    )
    check(entry.kind == kind, "LIST kind \(facts.kind) read as \(entry.kind): \(line.debugDescription)")
    check(entry.size == facts.size, "LIST size \(facts.size) read as \(entry.size as Any): \(line.debugDescription)")
    check(entry.modified == modified, "LIST time \(facts.modified) read as \(entry.modified as Any): \(line)")
    check(entry.permissions == permissions(facts.mode), "LIST mode \(facts.mode) read as \(entry.permissions ?? "")")
}

func checkMLSx(_ facts: FileFacts, enabled: Set<MLSFact>, role: MLSFormat.Role) {
    guard !enabled.isEmpty else { return }  // " name" alone is ambiguous with a name that looks like facts
    let line = MLSFormat.line(for: facts, facts: enabled, role: role)
    // No fact applies (e.g. only `size` for a directory): the line is " name", and a name holding "; " after
    // something like "a=b" cannot be told from facts by RFC 3659's grammar.
    if line.unicodeScalars.first == " ", facts.name.unicodeScalars.firstRange(of: "; ".unicodeScalars) != nil { return }
    guard let entry = ListingParser.parseMLSx(line) else {
        check(false, "Ferry's MLSD line \(line.debugDescription) is not read")
        return
    }
    check(
        entry.name.utf8.elementsEqual(facts.name.utf8),
        "MLSD name \(facts.name.debugDescription) read as \(entry.name.debugDescription)"
    )
    if enabled.contains(.type) {
        let kinds: [FileFacts.Kind: RemoteEntry.Kind] = [
            .file: .file, .directory: .directory, .symlink: .symlink, .other: .other,
        ]
        check(entry.kind == kinds[facts.kind], "MLSD kind \(facts.kind) read as \(entry.kind): \(line)")
        check(entry.isCurrentOrParent == (facts.kind == .directory && role != .entry), "cdir/pdir: \(line)")
    }
    let size = enabled.contains(.size) && facts.kind == .file ? facts.size : nil
    check(entry.size == size, "MLSD size \(facts.size) read as \(entry.size as Any): \(line.debugDescription)")
    let modified = enabled.contains(.modify) ? facts.modified : nil
    check(entry.modified == modified, "MLSD time \(facts.modified) read as \(entry.modified as Any): \(line)")
    if let time = modified {
        check(ListingParser.parseTimeValue(MLSFormat.timeValue(time)) == time, "MDTM round trip of \(time)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(bytes(data, size))
    let flags = input.byte()
    let fileSize = Int64(input.uint64() & 0x7FFF_FFFF_FFFF_FFFF)
    let modified = Int64(input.uint64() % UInt64(latest + 1))
    let rawMode = input.uint16()
    let mode = UInt32(rawMode) & 0o7777
    let name = String(decoding: input.take(until: 0), as: UTF8.self)
    let listing = String(decoding: input.rest(), as: UTF8.self)

    checkListing(listing)

    let kinds: [FileFacts.Kind] = [.file, .directory, .symlink, .other]
    let roles: [MLSFormat.Role] = [.entry, .currentDirectory, .parentDirectory]
    // Names a client can create over FTP: not empty, ".", ".." (which `isCurrentOrParent` rightly skips whatever
    // the type says), and without "/", NUL, CR or LF.
    let creatable =
        !name.isEmpty && name != "." && name != ".."
        && !name.unicodeScalars.contains(where: { "/\0\r\n".unicodeScalars.contains($0) })
    if creatable {
        let facts = FileFacts(
            name: name,
            kind: kinds[Int(flags & 3)],
            size: fileSize,
            modified: modified,
            mode: mode,
            unique: String(fileSize, radix: 16) + "g" + String(mode, radix: 16)
        )
        checkLIST(facts)
        let enabled = Set(MLSFact.allCases.enumerated().filter { flags & (4 << $0.offset) != 0 }.map(\.element))
        checkMLSx(facts, enabled: enabled, role: roles[Int(rawMode >> 12) % 3])
    }
    return 0
}

runFuzzer(fuzzOne)
