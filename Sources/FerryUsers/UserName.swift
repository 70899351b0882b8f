/// The rules for user names.
///
/// A user name is 1 to 64 characters from `A-Z`, `a-z`, `0-9`, `.`, `_` and `-`; it must not start with `-` or `.`
/// (so it can never be a command-line option, a hidden file or `.`/`..`). Names are case-sensitive. Since a name is
/// used as the default home directory's last path component, these rules also keep it a single, safe component.
public enum UserName {
    /// The longest accepted user name, in characters.
    public static let maxLength = 64

    /// Checks a user name against the rules.
    ///
    /// - Parameter name: The name to check.
    /// - Throws: ``UserStoreError/invalidName(_:reason:)`` whose description names the problem.
    public static func validate(_ name: String) throws(UserStoreError) {
        guard !name.isEmpty else {
            throw .invalidName(name, reason: "must not be empty")
        }
        guard name.unicodeScalars.allSatisfy(Self.isAllowed) else {
            throw .invalidName(name, reason: "may contain only letters, digits, '.', '_' and '-'")
        }
        // Only ASCII is left, so the UTF-8 count is the character count.
        guard name.utf8.count <= Self.maxLength else {
            throw .invalidName(name, reason: "is longer than \(Self.maxLength) characters")
        }
        guard let first = name.utf8.first, first != UInt8(ascii: "-"), first != UInt8(ascii: ".") else {
            throw .invalidName(name, reason: "must not start with '-' or '.'")
        }
    }

    private static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", ".", "_", "-":
            return true
        default:
            return false
        }
    }
}
