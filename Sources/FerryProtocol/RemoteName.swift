/// Why a name that a server sent (in a listing, or in NLST output) cannot become a local file name.
public enum RemoteNameProblem: Error, Sendable, Equatable, CustomStringConvertible {
    case empty
    /// `.` or `..`: joined onto a local folder they name that folder or its parent.
    case dotOrDotDot
    /// A `/` would make one entry a path of several components (`../../x`, `/etc/x`, `a/b`).
    case containsSlash
    /// C calls end a path at NUL, so the kernel would see a different name than the one checked.
    case containsNUL
    /// Longer than NAME_MAX: no local file system could hold it.
    case tooLong(bytes: Int)
    /// Shaped like the client's own temporary `.NAME.ferry-part` file: a download of it would replace the part
    /// file of the download of NAME mid-transfer, and that one would then rename unverified bytes into place.
    case partFileName

    public var description: String {
        switch self {
        case .empty: return "empty name"
        case .dotOrDotDot: return "'.' and '..' name directories, not entries"
        case .containsSlash: return "contains '/' (a path, not a name)"
        case .containsNUL: return "contains a NUL byte"
        case .tooLong(let bytes): return "\(bytes) bytes long (the limit is \(RemoteName.maximumLength))"
        case .partFileName: return "has the form of ferry's temporary .NAME\(RemoteName.partSuffix) files"
        }
    }
}

/// The rules for turning a name from a server into one local path component.
///
/// A server is not trusted with the client's file system: whatever its listing says, an entry must name exactly
/// one new entry beneath the folder being written to. The checks are on the UTF-8 bytes, not on `Character`s:
/// Swift compares strings by canonical equivalence and folds a combining mark into the character before it
/// (`"/\u{301}"` is one `Character` that is not `"/"`), while the kernel sees only bytes.
///
/// A backslash is accepted: on Linux and macOS, the only systems this client runs on, `\` is an ordinary byte in
/// a name and no separator, so `a\b` is one file beneath the target. A port to Windows must also refuse `\`, `:`
/// and the reserved device names.
public enum RemoteName {
    /// NAME_MAX on Linux and macOS, in bytes.
    public static let maximumLength = 255
    /// The suffix of the temporary file a download is written to before it is verified and renamed.
    public static let partSuffix = ".ferry-part"

    /// Why `name` cannot be used as a local file name, or nil when it can.
    public static func problem(with name: String) -> RemoteNameProblem? {
        let bytes = name.utf8
        if bytes.isEmpty { return .empty }
        if bytes.elementsEqual(".".utf8) || bytes.elementsEqual("..".utf8) { return .dotOrDotDot }
        if bytes.contains(UInt8(ascii: "/")) { return .containsSlash }
        if bytes.contains(0) { return .containsNUL }
        if bytes.count > Self.maximumLength { return .tooLong(bytes: bytes.count) }
        if bytes.first == UInt8(ascii: ".") && bytes.count > Self.partSuffix.utf8.count
            && bytes.reversed().starts(with: Self.partSuffix.utf8.reversed())
        {
            return .partFileName
        }
        return nil
    }

    /// The temporary name a download of `name` is written to, beside it: `.NAME.ferry-part`.
    public static func partName(for name: String) -> String { "." + name + Self.partSuffix }

    /// `name` quoted for a message on a terminal: control and formatting characters (escape sequences, bidi
    /// overrides, NUL, line breaks) are shown as `\u{…}` escapes, so a hostile name can neither hide itself nor
    /// drive the terminal.
    public static func escaped(_ name: String) -> String {
        var result = "\""
        for scalar in name.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\t": result += "\\t"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\0": result += "\\0"
            default:
                switch scalar.properties.generalCategory {
                case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .unassigned, .surrogate:
                    result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
                default:
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
