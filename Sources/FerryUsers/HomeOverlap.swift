import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Which homes must not overlap: a home that contains the data folder exposes the user database and the TLS key to
/// its user; a home that contains, or lies inside, another user's home exposes that user's files.
public enum HomeOverlap {
    /// Why `home` may not be used, or nil if it may. `others` are the other users' homes (name, path).
    public static func problem(home: String, dataDirectory: String, others: [(name: String, home: String)]) -> String? {
        let candidate = Self.canonical(home)
        let data = Self.canonical(dataDirectory)
        if Self.contains(candidate, data) {
            return "\(home) contains the data folder \(dataDirectory) (the user database and TLS key)"
        }
        if Self.contains(data, candidate) && !Self.contains(Self.canonical(dataDirectory + "/homes"), candidate) {
            return "\(home) lies inside the data folder \(dataDirectory)"
        }
        for other in others {
            let path = Self.canonical(other.home)
            if Self.contains(candidate, path) || Self.contains(path, candidate) {
                return "\(home) overlaps the home of '\(other.name)' (\(other.home))"
            }
        }
        return nil
    }

    /// Whether `home` is or contains the data folder (checked again at every login, for records made with --force or
    /// before this check existed: such a login is refused).
    public static func containsDataFolder(home: String, dataDirectory: String) -> Bool {
        Self.contains(Self.canonical(home), Self.canonical(dataDirectory))
    }

    /// Whether `inner` is `outer` or lies below it (component-wise, both canonical).
    static func contains(_ outer: [String], _ inner: [String]) -> Bool {
        inner.count >= outer.count && Array(inner.prefix(outer.count)) == outer
    }

    /// The components of the canonical form of `path`: links resolved for the part that exists, `.` and `..` for
    /// the rest, so a home that does not exist yet is compared as it will be.
    static func canonical(_ path: String) -> [String] {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var existing = absolute.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        var rest: [String] = []
        while true {
            let prefix = "/" + existing.joined(separator: "/")
            if let real = realpath(prefix, nil) {
                defer { free(real) }
                var components = String(cString: real).split(separator: "/").map(String.init)
                for component in rest.reversed() {
                    if component == "." { continue }
                    if component == ".." {
                        _ = components.popLast()
                    } else {
                        components.append(component)
                    }
                }
                return components
            }
            guard let last = existing.popLast() else { return rest.reversed() }
            rest.append(last)
        }
    }
}
