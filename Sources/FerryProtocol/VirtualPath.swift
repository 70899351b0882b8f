/// A path inside a user's jail, as the client sees it: `/` is the home directory.
///
/// A `VirtualPath` is always absolute and normalised: no empty, `.` or `..` components, and no component holds a
/// `/` or a NUL byte or is longer than `maximumComponentLength`. `..` at the root stays at the root, so no
/// sequence of components climbs out of the home (`CWD ../..` from `/` stays at `/`).
///
/// This is only the first line of defence: it makes the *name* safe. Symlinks are the file system layer's job,
/// which walks these components one by one relative to the home directory and never follows a link out of it.
public struct VirtualPath: Hashable, Sendable, CustomStringConvertible, Comparable {
    public private(set) var components: [String]

    /// The longest single name accepted, in UTF-8 bytes (NAME_MAX on Linux).
    public static let maximumComponentLength = 255
    /// The most components a path may have; deeper paths are refused rather than walked.
    public static let maximumDepth = 256

    public static let root = VirtualPath(validatedComponents: [])

    init(validatedComponents: [String]) {
        self.components = validatedComponents
    }

    /// Resolves what the client typed against its current directory.
    ///
    /// - Parameters:
    ///   - input: an absolute (`/a/b`) or relative (`a/b`, `../c`) path as sent by the client.
    ///   - cwd: the session's current directory.
    public init(resolving input: String, from cwd: VirtualPath) throws(VirtualPathError) {
        guard !input.utf8.contains(0) else { throw .containsNUL }
        var components = input.unicodeScalars.first == "/" ? [] : cwd.components
        // SECURITY: split on the scalar '/', not on Characters: "/" followed by a combining mark is one
        // Character, and a component must never hide a slash that the kernel would treat as a separator.
        for scalarPart in input.unicodeScalars.split(separator: "/", omittingEmptySubsequences: true) {
            let part = Substring(scalarPart)
            switch part {
            case ".":
                continue
            case "..":
                // SECURITY: `..` at the root stays at the root.
                if !components.isEmpty { components.removeLast() }
            default:
                guard part.utf8.count <= Self.maximumComponentLength else { throw .componentTooLong(String(part)) }
                components.append(String(part))
                guard components.count <= Self.maximumDepth else { throw .tooDeep }
            }
        }
        self.components = components
    }

    /// `/` joined components, e.g. `/docs/a b.txt`; `/` for the root.
    public var string: String {
        self.components.isEmpty ? "/" : "/" + self.components.joined(separator: "/")
    }

    public var description: String { self.string }

    public var isRoot: Bool { self.components.isEmpty }

    /// The last component, or nil for the root.
    public var name: String? { self.components.last }

    /// The parent directory; the root's parent is the root.
    public var parent: VirtualPath {
        VirtualPath(validatedComponents: Array(self.components.dropLast()))
    }

    /// This path with one more component. The name must be a single valid component.
    public func appending(_ name: String) throws(VirtualPathError) -> VirtualPath {
        guard !name.isEmpty, name != ".", name != "..", !name.unicodeScalars.contains("/") else {
            throw .invalidName(name)
        }
        guard !name.utf8.contains(0) else { throw .containsNUL }
        guard name.utf8.count <= Self.maximumComponentLength else { throw .componentTooLong(name) }
        return VirtualPath(validatedComponents: self.components + [name])
    }

    /// True if `self` is `other` or lies below it.
    public func isDescendant(of other: VirtualPath) -> Bool {
        self.components.count >= other.components.count
            && zip(self.components, other.components).allSatisfy { $0.utf8.elementsEqual($1.utf8) }
    }

    public static func < (lhs: VirtualPath, rhs: VirtualPath) -> Bool { lhs.string < rhs.string }

    // Equality is byte equality, as for the kernel: `café` composed and decomposed are two different files,
    // although Swift's String `==` (canonical equivalence) calls them equal.
    public static func == (lhs: VirtualPath, rhs: VirtualPath) -> Bool {
        lhs.components.count == rhs.components.count
            && zip(lhs.components, rhs.components).allSatisfy { $0.utf8.elementsEqual($1.utf8) }
    }

    public func hash(into hasher: inout Hasher) {
        for component in self.components {
            hasher.combine(component.utf8.count)
            for byte in component.utf8 { hasher.combine(byte) }
        }
    }
}

/// Why a client path was refused. Each maps to a reply the client gets.
public enum VirtualPathError: Error, Hashable, Sendable, CustomStringConvertible {
    case containsNUL
    case componentTooLong(String)
    case tooDeep
    case invalidName(String)

    public var description: String {
        switch self {
        case .containsNUL: return "Path contains a NUL byte."
        case .componentTooLong: return "File name too long."
        case .tooDeep: return "Path has too many components."
        case .invalidName(let name): return "Invalid file name '\(name)'."
        }
    }

    public var reply: FTPReply {
        FTPReply(.fileNameNotAllowed, self.description)
    }
}
