/// A clear-text password, kept as its UTF-8 bytes.
///
/// The type exists so that a secret can never be printed or logged by accident: ``description``,
/// ``debugDescription`` and the reflection used by `dump` all show `******`, never the password.
/// Pass it to ``PasswordHasher`` or ``Authenticator`` and let it go out of scope.
public struct Password: Sendable, CustomStringConvertible, CustomDebugStringConvertible, ExpressibleByStringLiteral,
    CustomReflectable
{
    /// The password's bytes, exactly as they are fed to the key derivation function.
    public let bytes: [UInt8]

    /// Creates a password from a string, using the string's UTF-8 encoding (no Unicode normalisation).
    ///
    /// - Parameter string: The clear-text password.
    public init(_ string: String) {
        self.bytes = Array(string.utf8)
    }

    /// Creates a password from raw bytes, for example bytes received on the wire that are not valid UTF-8.
    ///
    /// - Parameter bytes: The clear-text password's bytes.
    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Creates a password from a string literal (mostly useful in tests).
    ///
    /// - Parameter value: The clear-text password.
    public init(stringLiteral value: String) {
        self.init(value)
    }

    /// Always `******`: the password itself is never shown.
    public var description: String {
        "******"
    }

    /// Always `******`: the password itself is never shown.
    public var debugDescription: String {
        "******"
    }

    /// A mirror without children, so that `dump` and other reflection never reveal the bytes.
    public var customMirror: Mirror {
        Mirror(self, children: [], displayStyle: .struct)
    }
}
