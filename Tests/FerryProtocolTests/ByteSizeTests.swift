import Testing

@testable import FerryProtocol

private func parseError(_ text: String) -> ByteSize.ParseError? {
    do throws(ByteSize.ParseError) {
        _ = try ByteSize.parse(text)
        return nil
    } catch {
        return error
    }
}

@Suite("ByteSize")
struct ByteSizeTests {
    @Test(arguments: [
        ("500KB", Int64(500_000)),
        ("10MiB", 10_485_760),
        ("2GB", 2_000_000_000),
        ("1.5GiB", 1_610_612_736),
        ("12345", 12345),
        ("0", 0),
        ("007", 7),
        // A bare K/M/G/T is binary, like `ls -h`.
        ("1K", 1024),
        ("1k", 1024),
        ("1M", 1_048_576),
        ("1G", 1_073_741_824),
        ("1T", 1_099_511_627_776),
        // Decimal and binary units; case never changes the base.
        ("1KB", 1000), ("1kb", 1000), ("1kB", 1000), ("1Kb", 1000),
        ("1KiB", 1024), ("1kib", 1024), ("1KIB", 1024),
        ("1MB", 1_000_000), ("1mb", 1_000_000), ("1MiB", 1_048_576), ("1mib", 1_048_576),
        ("1GB", 1_000_000_000), ("1gB", 1_000_000_000), ("1GiB", 1_073_741_824),
        ("1TB", 1_000_000_000_000), ("1TiB", 1_099_511_627_776), ("1tib", 1_099_511_627_776),
        ("12B", 12), ("12b", 12), ("0KB", 0),
        // Spaces around the number and between number and unit.
        (" 10 MiB ", 10_485_760), ("10 MiB", 10_485_760), ("  42  ", 42), ("1 K", 1024), ("3   GB", 3_000_000_000),
        // Fractions with a unit, rounded down to whole bytes.
        ("0.5K", 512), ("1.5KB", 1500), ("2.25MiB", 2_359_296), ("1.999K", 2046), ("0.0001K", 0),
        ("1.0KB", 1000),
        // Limits.
        ("9223372036854775807", Int64.max),
        ("9223372036854775807B", Int64.max),
        ("8388607TiB", 9_223_370_937_343_148_032),
        ("9223372TB", 9_223_372_000_000_000_000),
    ])
    func parses(text: String, bytes: Int64) throws {
        #expect(try ByteSize.parse(text) == bytes)
    }

    @Test(arguments: [
        "", " ", "abc", "KB", "-5", "-5KB", "+5", "1..5", "1..5K", "1.2.3K", ".5K", "5.K", "5.", ".", "5XB", "5 XB",
        "5KBB", "5 K B", "5kibi", "5EB", "5EiB", "5PB", "1e3", "1,000", "1_000", "0x10", "5K5",
        "99999999999TB",  // overflow
        "8388608TiB",  // 2^63: one past Int64.max
        "9223373TB",
        "9223372036854775808",  // does not fit an Int64
        "99999999999999999999K",
        "1.5",  // a fraction of a byte makes no sense
        "1.5B",
        "1.0",
        "١٢",  // non-ASCII digits
        "１２",
        "12\tKB",
    ])
    func refuses(text: String) {
        #expect(parseError(text) == ByteSize.ParseError(input: text))
    }

    @Test func errorNamesTheInput() {
        let error = parseError(" 5XB")
        #expect(error?.input == " 5XB")
        #expect(
            error?.description
                == "invalid size ' 5XB': use a number of bytes or a number with a unit (500KB, 10MiB, 2GB, 1.5GiB)"
        )
    }

    @Test(arguments: [
        (Int64(0), "0 B"),
        (1, "1 B"),
        (512, "512 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1075, "1.0 KiB"),
        (1126, "1.1 KiB"),
        (1536, "1.5 KiB"),
        (1_047_552, "1023.0 KiB"),
        (1_048_524, "1023.9 KiB"),
        (1_048_576, "1.0 MiB"),
        (10_485_760, "10.0 MiB"),
        (1_610_612_736, "1.5 GiB"),
        (1_099_511_627_776, "1.0 TiB"),
        (1 << 50, "1.0 PiB"),
        (1 << 60, "1.0 EiB"),
        (Int64.max, "8.0 EiB"),
        (-5, "-5 B"),
    ])
    func format(bytes: Int64, text: String) {
        #expect(ByteSize.format(bytes) == text)
    }

    /// Values just below the next unit round up to 1024.0 of the smaller unit instead of 1.0 of the next.
    @Test(arguments: [(1_048_575, "1.0 MiB"), (1_048_525, "1.0 MiB"), ((1 << 30) - 1, "1.0 GiB")] as [(Int64, String)])
    func formatRoundsIntoTheNextUnit(bytes: Int64, text: String) {
        #expect(ByteSize.format(bytes) == text)
    }

    @Test(arguments: [Int64(1024), 1536, 1_048_576, 1_610_612_736, 1 << 40])
    func formatParsesBack(bytes: Int64) throws {
        #expect(try ByteSize.parse(ByteSize.format(bytes)) == bytes)
    }
}
