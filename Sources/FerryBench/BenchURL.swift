import Foundation

/// `ftp://USER[:PASSWORD]@HOST[:PORT]` as `ferry-bench --url` takes it (percent-escapes decoded).
public struct BenchURL: Sendable, Equatable {
    public var user: String
    public var password: String?
    public var host: String
    public var port: Int

    public init(user: String, password: String?, host: String, port: Int) {
        self.user = user
        self.password = password
        self.host = host
        self.port = port
    }

    public init(_ text: String) throws {
        guard let components = URLComponents(string: text), components.scheme?.lowercased() == "ftp",
            let host = components.host, !host.isEmpty
        else {
            throw BenchError("--url must look like ftp://USER[:PASSWORD]@HOST[:PORT], not '\(text)'")
        }
        guard let user = components.user, !user.isEmpty else { throw BenchError("--url needs a user: ftp://USER@HOST") }
        self.user = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        self.port = components.port ?? 21
        guard (1...65535).contains(self.port) else { throw BenchError("--url port must be 1-65535") }
    }
}
