import Testing

@testable import FerryProtocol

private func path(_ text: String, from cwd: VirtualPath = .root) throws -> VirtualPath {
    try VirtualPath(resolving: text, from: cwd)
}

/// The error a resolution fails with, or nil if it succeeds.
private func resolutionError(_ text: String, from cwd: VirtualPath = .root) -> VirtualPathError? {
    do throws(VirtualPathError) {
        _ = try VirtualPath(resolving: text, from: cwd)
        return nil
    } catch {
        return error
    }
}

private func appendingError(_ name: String, to base: VirtualPath = .root) -> VirtualPathError? {
    do throws(VirtualPathError) {
        _ = try base.appending(name)
        return nil
    } catch {
        return error
    }
}

/// Byte-exact comparison: `String ==` uses canonical equivalence, file names do not.
private func sameBytes(_ lhs: [String], _ rhs: [String]) -> Bool {
    lhs.count == rhs.count && zip(lhs, rhs).allSatisfy { $0.utf8.elementsEqual($1.utf8) }
}

/// The invariant every `VirtualPath` promises.
private func checkInvariant(_ path: VirtualPath, sourceLocation: SourceLocation = #_sourceLocation) {
    for component in path.components {
        #expect(!component.isEmpty, sourceLocation: sourceLocation)
        #expect(component != "." && component != "..", sourceLocation: sourceLocation)
        #expect(
            !component.utf8.contains(UInt8(ascii: "/")),
            "slash in \(component.debugDescription)",
            sourceLocation: sourceLocation
        )
        #expect(!component.utf8.contains(0), sourceLocation: sourceLocation)
        #expect(component.utf8.count <= VirtualPath.maximumComponentLength, sourceLocation: sourceLocation)
    }
    #expect(path.components.count <= VirtualPath.maximumDepth, sourceLocation: sourceLocation)
    #expect(path.isDescendant(of: .root), sourceLocation: sourceLocation)
}

@Suite("VirtualPath resolution")
struct VirtualPathResolutionTests {
    static let cwd = VirtualPath(validatedComponents: ["home", "user"])

    @Test(arguments: [
        // Hostile climbs: `..` at the root stays at the root.
        ("..", "/", "/"),
        ("../..", "/", "/"),
        ("../../../../../../..", "/", "/"),
        ("/../../etc/passwd", "/", "/etc/passwd"),
        ("/../../etc/passwd", "/home/user", "/etc/passwd"),
        ("../../../../etc/passwd", "/home/user", "/etc/passwd"),
        ("a/../../b", "/", "/b"),
        ("a/../../b", "/x/y", "/x/b"),
        ("/a/b/../../..", "/x", "/"),
        ("..", "/home/user", "/home"),
        ("../c", "/a/b", "/a/c"),
        ("a/..", "/x", "/x"),
        // Redundant separators and dots.
        ("//a///b/", "/", "/a/b"),
        ("./a/./b", "/", "/a/b"),
        ("./a/./b", "/c", "/c/a/b"),
        (".", "/a", "/a"),
        ("./", "/a", "/a"),
        ("/./", "/a", "/"),
        ("/", "/a/b", "/"),
        ("///", "/a/b", "/"),
        // An empty input names the current directory.
        ("", "/", "/"),
        ("", "/a/b", "/a/b"),
        // Relative vs absolute.
        ("c", "/a/b", "/a/b/c"),
        ("c/d", "/a/b", "/a/b/c/d"),
        ("/c", "/a/b", "/c"),
        // Names that only look special are ordinary names.
        ("...", "/", "/..."),
        ("....", "/", "/...."),
        ("..a", "/", "/..a"),
        (".hidden", "/", "/.hidden"),
        (" ", "/", "/ "),
        ("a b/c d", "/", "/a b/c d"),
        ("dossier/résumé.txt", "/", "/dossier/résumé.txt"),
        ("日本語/📄", "/", "/日本語/📄"),
        ("~", "/", "/~"),
        ("~root", "/", "/~root"),
        // Backslashes are NOT separators on the server (Linux): they are kept literally as part of a name, so
        // `..\..\etc` is one odd name inside the jail, never a climb.
        ("a\\b", "/", "/a\\b"),
        ("..\\..\\etc", "/", "/..\\..\\etc"),
        ("\\..", "/", "/\\.."),
        ("..\\", "/x", "/x/..\\"),
        ("C:\\Windows", "/", "/C:\\Windows"),
    ])
    func resolves(input: String, cwd: String, expected: String) throws {
        let base = try path(cwd)
        let resolved = try path(input, from: base)
        #expect(resolved.string == expected)
        checkInvariant(resolved)
    }

    @Test func backslashComponentIsOneName() throws {
        #expect(try path("..\\..\\etc").components == ["..\\..\\etc"])
        #expect(try path("a\\b/c").components == ["a\\b", "c"])
    }

    @Test func componentsAreExposed() throws {
        #expect(try path("/a/b/c").components == ["a", "b", "c"])
        #expect(try path("/").components == [])
        #expect(try path("x", from: Self.cwd).components == ["home", "user", "x"])
    }

    @Test(arguments: ["a\u{0}b", "\u{0}", "/\u{0}", "a/\u{0}/..", "../\u{0}", "ok/ok/\u{0}"])
    func nulIsRefused(input: String) {
        #expect(resolutionError(input) == .containsNUL)
        #expect(resolutionError(input, from: Self.cwd) == .containsNUL)
    }

    @Test func componentLengthLimit() throws {
        #expect(VirtualPath.maximumComponentLength == 255)
        let ok = String(repeating: "a", count: 255)
        let tooLong = String(repeating: "a", count: 256)
        #expect(try path("/" + ok).name == ok)
        #expect(try path("/x/" + ok + "/y").components == ["x", ok, "y"])
        #expect(resolutionError("/" + tooLong) == .componentTooLong(tooLong))
        #expect(resolutionError("x/" + tooLong + "/y") == .componentTooLong(tooLong))
        // The limit is in UTF-8 bytes: 127 × "é" + "a" is 255 bytes, 128 × "é" is 256.
        let utf8OK = String(repeating: "é", count: 127) + "a"
        let utf8TooLong = String(repeating: "é", count: 128)
        #expect(try path(utf8OK).name == utf8OK)
        #expect(resolutionError(utf8TooLong) == .componentTooLong(utf8TooLong))
        // A too-long name is refused even if a later `..` would have removed it.
        #expect(resolutionError(tooLong + "/..") == .componentTooLong(tooLong))
    }

    @Test func depthLimit() throws {
        #expect(VirtualPath.maximumDepth == 256)
        let deepest = try path(String(repeating: "d/", count: 256))
        #expect(deepest.components.count == 256)
        #expect(resolutionError(String(repeating: "d/", count: 257)) == .tooDeep)
        #expect(resolutionError("/" + Array(repeating: "d", count: 257).joined(separator: "/")) == .tooDeep)
        // The cwd counts toward the depth of a relative path, not of an absolute one.
        let deepCwd = try path(String(repeating: "d/", count: 255))
        #expect(try path("x", from: deepCwd).components.count == 256)
        #expect(resolutionError("x/y", from: deepCwd) == .tooDeep)
        #expect(try path("/x/y", from: deepCwd).string == "/x/y")
        // `..` keeps the depth down, so long inputs that go up and down are fine.
        #expect(try path(String(repeating: "a/../", count: 1000) + "z").string == "/z")
    }

    @Test func equalInputsGiveEqualPaths() throws {
        #expect(try path("/a/./b") == path("a/b"))
        #expect(try path("//a//b//") == path("/a/b"))
        #expect(try path("/a/b").hashValue == path("a/x/../b").hashValue)
        #expect(try path("/a/b") != path("/a/b/c"))
    }

    /// Deterministic fuzzing: whatever the client types, the invariant holds and the result is inside the jail.
    @Test func fuzzedInputsKeepTheInvariant() throws {
        var generator = SplitMix64(seed: 0x5EED)
        let pieces = ["..", ".", "/", "//", "a", "b c", "é", "\\", "...", "~", " ", "-", "\u{301}", "\u{200D}", "📄"]
        for _ in 0..<5000 {
            var input = ""
            for _ in 0..<Int.random(in: 0...12, using: &generator) {
                input += pieces.randomElement(using: &generator)!
            }
            let cwd = Bool.random(using: &generator) ? VirtualPath.root : Self.cwd
            let resolved = try path(input, from: cwd)
            checkInvariant(resolved)
            if input.hasPrefix("/") || cwd.isRoot {
                // From the root, `..` cannot go anywhere: the number of plain names bounds the depth.
                #expect(resolved.components.count <= input.unicodeScalars.split(separator: "/").count)
            }
        }
    }

    /// `/` followed by a combining mark is one `Character`, but still a separator for the kernel. A component
    /// that kept such a slash would be walked by `openat(2)`: `../\u{301}x` from the root would name the entry
    /// `\u{301}x` in the home's *parent* directory. Splitting must happen on the scalar `/`.
    @Test(
        arguments: [
            ("../\u{301}x", "/", ["\u{301}x"]),
            ("a/\u{301}b", "/", ["a", "\u{301}b"]),
            ("/\u{301}/etc/passwd", "/", ["\u{301}", "etc", "passwd"]),
            ("a/\u{200D}b", "/", ["a", "\u{200D}b"]),
            ("x/../\u{301}y/\u{FE0F}z", "/home/user", ["home", "user", "\u{301}y", "\u{FE0F}z"]),
            ("../../\u{301}", "/home/user", ["\u{301}"]),
        ] as [(String, String, [String])]
    )
    func slashBeforeCombiningMarkStillSeparates(input: String, cwd: String, expected: [String]) throws {
        let resolved = try path(input, from: path(cwd))
        #expect(sameBytes(resolved.components, expected), "\(resolved.components)")
        checkInvariant(resolved)
    }

    /// An input that starts with `/` and a combining mark is absolute.
    @Test(
        arguments: [
            ("/\u{301}x", ["\u{301}x"]),
            ("/\u{301}/etc/passwd", ["\u{301}", "etc", "passwd"]),
        ] as [(String, [String])]
    )
    func leadingSlashBeforeCombiningMarkIsAbsolute(input: String, expected: [String]) throws {
        let cwd = try path("/home/user")
        let resolved = try path(input, from: cwd)
        #expect(sameBytes(resolved.components, expected), "\(resolved.components)")
    }

    /// Swift's `String ==` is canonical equivalence; Linux file names are bytes. `café` (NFC) and `café` (NFD) are
    /// two different files, and two different paths.
    @Test func canonicallyEquivalentNamesAreDifferentFiles() throws {
        let composed = try path("/caf\u{E9}")
        let decomposed = try path("/cafe\u{301}")
        #expect(!sameBytes(composed.components, decomposed.components))
        #expect(composed != decomposed)
        let child = try path("/cafe\u{301}/x")
        #expect(!child.isDescendant(of: composed))
    }
}

@Suite("VirtualPath navigation")
struct VirtualPathNavigationTests {
    @Test func root() {
        let root = VirtualPath.root
        #expect(root.isRoot)
        #expect(root.components.isEmpty)
        #expect(root.string == "/")
        #expect(root.description == "/")
        #expect(root.name == nil)
        #expect(root.parent == root)
        #expect(root.parent.parent.isRoot)
    }

    @Test func parentAndName() throws {
        let file = try path("/docs/reports/a b.txt")
        #expect(file.name == "a b.txt")
        #expect(!file.isRoot)
        #expect(file.parent.string == "/docs/reports")
        #expect(file.parent.name == "reports")
        #expect(file.parent.parent.string == "/docs")
        #expect(file.parent.parent.parent == .root)
        #expect(try path("/top").parent == .root)
    }

    @Test func stringForm() throws {
        #expect(try path("/docs/a b.txt").string == "/docs/a b.txt")
        #expect(try path("/docs/a b.txt").description == "/docs/a b.txt")
        let relative = try path("x/y")
        #expect("\(relative)" == "/x/y")
        #expect(try path("/résumé/📄").string == "/résumé/📄")
    }

    @Test func appending() throws {
        let base = try path("/a/b")
        #expect(try base.appending("c").string == "/a/b/c")
        #expect(try base.appending("c").parent == base)
        #expect(try VirtualPath.root.appending("x").string == "/x")
        #expect(try base.appending("...").string == "/a/b/...")
        #expect(try base.appending(" ").string == "/a/b/ ")
        #expect(try base.appending("a\\b").components == ["a", "b", "a\\b"])
        #expect(try base.appending(".hidden").name == ".hidden")
        let longest = String(repeating: "n", count: 255)
        #expect(try base.appending(longest).name == longest)
    }

    @Test(arguments: ["", ".", "..", "a/b", "/", "/a", "a/"])
    func appendingInvalidNames(name: String) {
        #expect(appendingError(name) == .invalidName(name))
    }

    @Test func appendingRejectsNULAndLongNames() {
        #expect(appendingError("a\u{0}b") == .containsNUL)
        let tooLong = String(repeating: "n", count: 256)
        #expect(appendingError(tooLong) == .componentTooLong(tooLong))
        #expect(
            appendingError(String(repeating: "é", count: 128)) == .componentTooLong(String(repeating: "é", count: 128))
        )
    }

    /// `/` followed by a combining mark is one Character but still a slash byte.
    @Test func appendingNameWithSlashBeforeCombiningMark() {
        #expect(appendingError("a/\u{301}b") == .invalidName("a/\u{301}b"))
        #expect(appendingError("/\u{301}") == .invalidName("/\u{301}"))
    }

    @Test(arguments: [
        ("/a/b", "/a", true),
        ("/a", "/a", true),
        ("/a/b/c", "/a", true),
        ("/x", "/", true),
        ("/", "/", true),
        ("/", "/a", false),
        ("/a", "/a/b", false),
        ("/ab", "/a", false),  // component-wise, not a string prefix
        ("/a b", "/a", false),
        ("/b/a", "/a", false),
        ("/a/b", "/b", false),
    ])
    func isDescendant(child: String, ancestor: String, expected: Bool) throws {
        #expect(try path(child).isDescendant(of: path(ancestor)) == expected)
    }

    @Test func ordering() throws {
        let paths = try ["/b", "/a/z", "/a", "/", "/a/b"].map { try path($0) }
        #expect(paths.sorted().map(\.string) == ["/", "/a", "/a/b", "/a/z", "/b"])
        #expect(try path("/a") < path("/b"))
        #expect(try !(path("/a") < path("/a")))
    }

    @Test(arguments: [
        (VirtualPathError.containsNUL, "Path contains a NUL byte."),
        (.componentTooLong("x"), "File name too long."),
        (.tooDeep, "Path has too many components."),
        (.invalidName(".."), "Invalid file name '..'."),
    ])
    func errorTextAndReply(error: VirtualPathError, text: String) {
        #expect(error.description == text)
        #expect(error.reply == FTPReply(.fileNameNotAllowed, text))
        #expect(error.reply.code.rawValue == 553)
    }
}
