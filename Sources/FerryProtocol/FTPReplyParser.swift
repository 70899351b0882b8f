/// Assembles server reply lines into replies (RFC 959 §4.2): the client side of `FTPReply.wireFormat`.
///
///     S: 211-Features:
///     S:  EPSV
///     S: 211 End
///     -> FTPReply(211, lines: ["Features:", " EPSV", "End"])
///
/// A multi-line reply starts with `ddd-` and ends at the first line that starts with the same code and a space;
/// lines in between are kept as sent (their leading space included). Garbage that is not a reply is an error.
public struct FTPReplyParser: Sendable {
    public struct MalformedReply: Error, Hashable, Sendable, CustomStringConvertible {
        public var line: String
        public var description: String { "malformed reply line from the server: \(self.line.prefix(200))" }
    }

    /// The most lines one reply may have (a listing sent over the control connection by STAT can be long).
    public let maximumLines: Int
    private var pending: (code: Int, lines: [String])?

    public init(maximumLines: Int = 100_000) {
        self.maximumLines = maximumLines
    }

    /// Feeds one line (without CRLF). Returns a reply when this line completes one.
    public mutating func feed(_ line: String) throws(MalformedReply) -> FTPReply? {
        if var pending = self.pending {
            if let code = Self.code(of: line), code == pending.code, line.utf8.count == 3 || Self.byte(line, 3) == 0x20
            {
                pending.lines.append(Self.text(after: line))
                self.pending = nil
                return FTPReply(FTPReplyCode(code), lines: pending.lines)
            }
            guard pending.lines.count < self.maximumLines else { throw MalformedReply(line: line) }
            pending.lines.append(line)
            self.pending = pending
            return nil
        }
        guard let code = Self.code(of: line) else { throw MalformedReply(line: line) }
        if Self.byte(line, 3) == UInt8(ascii: "-") {
            self.pending = (code, [Self.text(after: line)])
            return nil
        }
        return FTPReply(FTPReplyCode(code), Self.text(after: line))
    }

    static func code(of line: String) -> Int? {
        let bytes = Array(line.utf8.prefix(3))
        guard bytes.count == 3, bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), bytes[0] >= 0x31, bytes[0] <= 0x35
        else { return nil }
        return Int(bytes[0] - 0x30) * 100 + Int(bytes[1] - 0x30) * 10 + Int(bytes[2] - 0x30)
    }

    static func byte(_ line: String, _ index: Int) -> UInt8? {
        let utf8 = line.utf8
        guard utf8.count > index else { return nil }
        return utf8[utf8.index(utf8.startIndex, offsetBy: index)]
    }

    static func text(after line: String) -> String {
        let scalars = line.unicodeScalars
        guard scalars.count > 4 else { return "" }
        return String(scalars.dropFirst(4))
    }
}

extension HostPort {
    /// The port of a 229 reply (RFC 2428 §3): `Entering Extended Passive Mode (|||6446|)`.
    public static func parseEPSVReply(_ text: String) -> Int? {
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")"), open < close else { return nil }
        let inner = text[text.index(after: open)..<close]
        guard let delimiter = inner.first else { return nil }
        let fields = inner.split(separator: delimiter, omittingEmptySubsequences: false)
        guard fields.count == 5, let port = Int(fields[3]), (1...65535).contains(port) else { return nil }
        return port
    }

    /// Host and port of a 227 reply: six numbers `h1,h2,h3,h4,p1,p2`, with or without parentheses.
    public static func parsePASVReply(_ text: String) -> HostPort? {
        var numbers: [Int] = []
        var current: Int? = nil
        for scalar in text.unicodeScalars {
            if let digit = Int(String(scalar)), scalar.isASCII, ("0"..."9").contains(scalar) {
                current = (current ?? 0) * 10 + digit
                if current! > 65535 { return nil }
            } else {
                if let value = current { numbers.append(value) }
                current = nil
                if scalar != "," && numbers.count >= 6 { break }
                if scalar != "," && !numbers.isEmpty && numbers.count < 6 { numbers.removeAll() }
            }
        }
        if let value = current { numbers.append(value) }
        guard numbers.count >= 6 else { return nil }
        let six = Array(numbers.suffix(6))
        guard six.allSatisfy({ $0 <= 255 }) else { return nil }
        return HostPort(
            family: .ipv4,
            host: six[0..<4].map(String.init).joined(separator: "."),
            port: six[4] << 8 | six[5]
        )
    }
}
