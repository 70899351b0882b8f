import FerryProtocol

/// What went wrong, in a form a program can act on: the kind of failure and, for replies, the server's code and text.
public struct FTPClientError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// Connecting, the connection dropped, or a timeout.
        case connection
        /// TLS could not be set up or the server's certificate is not trusted.
        case tls
        /// The server refused the user name or password.
        case authentication
        /// The server answered a command with an error (`reply` holds it).
        case remote
        /// A transfer's result did not match: sizes or digests differ.
        case verification
        /// Reading or writing a local file failed.
        case localIO
        /// The server said something that is not FTP.
        case protocolViolation
        /// The operation was cancelled (ABOR was sent).
        case cancelled
    }

    public var kind: Kind
    public var message: String
    /// The server's reply, for `.remote` and `.authentication`.
    public var reply: FTPReply?

    public init(_ kind: Kind, _ message: String, reply: FTPReply? = nil) {
        self.kind = kind
        self.message = message
        self.reply = reply
    }

    /// The reply code, when the server gave one.
    public var code: Int? { self.reply?.code.rawValue }

    public var description: String {
        guard let reply else { return self.message }
        return "\(self.message): \(reply.code) \(reply.lines.joined(separator: " "))"
    }

    static func remote(_ what: String, _ reply: FTPReply) -> FTPClientError {
        FTPClientError(reply.code.rawValue == 530 ? .authentication : .remote, what, reply: reply)
    }
}
