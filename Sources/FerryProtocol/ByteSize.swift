/// Byte counts as people write them: `500KB`, `10MiB`, `2GB`, `1.5GiB`, `12345`.
///
/// Decimal units (KB, MB, GB, TB) are powers of 1000, binary units (KiB, MiB, GiB, TiB) powers of 1024, as SI and
/// IEC define them. A bare `K`, `M`, `G`, `T` means the binary unit, as in `ls -h` and `df -h`. Case does not
/// matter except that it never changes the base.
public enum ByteSize {
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var input: String
        public var description: String {
            "invalid size '\(input)': use a number of bytes or a number with a unit (500KB, 10MiB, 2GB, 1.5GiB)"
        }
    }

    public static func parse(_ text: String) throws(ParseError) -> Int64 {
        let trimmed = text.trimmingCharacters(where: { $0 == " " })
        let numberPart = trimmed.prefix(while: { $0.isASCII && ($0.isNumber || $0 == ".") })
        let unitPart = trimmed.dropFirst(numberPart.count).trimmingCharacters(where: { $0 == " " }).lowercased()
        guard !numberPart.isEmpty, numberPart.filter({ $0 == "." }).count <= 1, numberPart.first != ".",
            numberPart.last != "."
        else { throw ParseError(input: text) }
        let multiplier: Int64
        switch unitPart {
        case "", "b": multiplier = 1
        case "kb": multiplier = 1000
        case "mb": multiplier = 1000 * 1000
        case "gb": multiplier = 1000 * 1000 * 1000
        case "tb": multiplier = 1000 * 1000 * 1000 * 1000
        case "k", "kib": multiplier = 1 << 10
        case "m", "mib": multiplier = 1 << 20
        case "g", "gib": multiplier = 1 << 30
        case "t", "tib": multiplier = 1 << 40
        default: throw ParseError(input: text)
        }
        if let whole = Int64(numberPart) {
            let (product, overflow) = whole.multipliedReportingOverflow(by: multiplier)
            guard !overflow else { throw ParseError(input: text) }
            return product
        }
        // A fraction: only meaningful with a unit ("1.5GiB"); the result is rounded down to whole bytes.
        guard multiplier > 1, let value = Double(numberPart), value.isFinite else { throw ParseError(input: text) }
        let bytes = value * Double(multiplier)
        guard bytes < 9.2e18 else { throw ParseError(input: text) }
        return Int64(bytes)
    }

    /// A short human form with binary units, e.g. `1.5 GiB`, `512 B`.
    public static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        guard bytes >= 1024 else { return "\(bytes) B" }
        var value = Double(bytes)
        var index = 0
        // Round before choosing the unit, so 1048575 bytes is "1.0 MiB", not "1024.0 KiB".
        while (value * 10).rounded() / 10 >= 1024 && index < units.count - 1 {
            value /= 1024
            index += 1
        }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[index])"
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(where predicate: (Character) -> Bool) -> String {
        var slice = Substring(self)
        while let first = slice.first, predicate(first) { slice = slice.dropFirst() }
        while let last = slice.last, predicate(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
