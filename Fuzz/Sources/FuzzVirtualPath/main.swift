// The jail's first line of defence: `VirtualPath` normalisation of what a client types, against a current directory.
//
// Input: the current directory's text up to a NUL byte, then the path the client sends (which may itself hold NUL,
// to test its rejection), then after a second NUL a name for `appending`.
//
// Invariants (the jail's promise):
// - A resolved path is absolute and normalised: no component is empty, ".", ".." (as bytes), holds "/" or NUL, or is
//   longer than 255 bytes; at most 256 components. Its string splits on the byte "/" into exactly its components,
//   as the kernel will split it.
// - It never climbs above the root, and a relative path without a ".." component stays below the current directory.
// - Normalisation is idempotent and absolute: resolving its string again, from any directory, gives the same path.
// - `appending` accepts exactly the names that are one valid component.
import FerryProtocol
import FuzzSupport

func checkNormalised(_ path: VirtualPath, _ origin: String) {
    check(path.components.count <= VirtualPath.maximumDepth, "\(path.components.count) components from \(origin)")
    for component in path.components {
        let bytes = Array(component.utf8)
        check(!bytes.isEmpty, "an empty component from \(origin.debugDescription)")
        check(bytes != [0x2E] && bytes != [0x2E, 0x2E], "a \(component) component from \(origin.debugDescription)")
        check(!bytes.contains(0x2F) && !bytes.contains(0), "component \(component.debugDescription) holds / or NUL")
        check(bytes.count <= VirtualPath.maximumComponentLength, "a component of \(bytes.count) bytes")
    }
    let string = Array(path.string.utf8)
    check(string.first == 0x2F, "\(path.string.debugDescription) is not absolute")
    let split = string.split(separator: 0x2F, omittingEmptySubsequences: false).dropFirst()
    if path.isRoot {
        check(string == [0x2F], "the root's string is \(path.string.debugDescription)")
    } else {
        check(split.map(Array.init) == path.components.map { Array($0.utf8) }, "\(path.string) splits differently")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(bytes(data, size))
    let cwdText = String(decoding: input.take(until: 0), as: UTF8.self)
    // The client's text may hold NUL (the command parser rejects it, but VirtualPath must not rely on that): a 0x01
    // byte stands for NUL here, since NUL separates the pieces of the input.
    let text = String(decoding: input.take(until: 0).map { $0 == 1 ? 0 : $0 }, as: UTF8.self)
    let name = String(decoding: input.rest().map { $0 == 1 ? 0 : $0 }, as: UTF8.self)

    let cwd = (try? VirtualPath(resolving: cwdText, from: .root)) ?? .root
    checkNormalised(cwd, cwdText)
    guard let resolved = try? VirtualPath(resolving: text, from: cwd) else { return 0 }
    checkNormalised(resolved, text)
    check(!text.utf8.contains(0), "a path with NUL was accepted: \(text.debugDescription)")

    let climbs = text.unicodeScalars.split(separator: "/").contains { Array(String($0).utf8) == [0x2E, 0x2E] }
    let absolute = text.unicodeScalars.first == "/"
    if !climbs && !absolute {
        check(resolved.isDescendant(of: cwd), "\(text.debugDescription) from \(cwd) left it: \(resolved)")
    }
    for base in [VirtualPath.root, cwd, resolved] {
        let again = try? VirtualPath(resolving: resolved.string, from: base)
        check(again == resolved, "\(resolved.string.debugDescription) re-resolves to \(again as Any) from \(base)")
    }
    if absolute {
        check((try? VirtualPath(resolving: text, from: .root)) == resolved, "absolute \(text) depends on the cwd")
    }
    check(
        resolved.parent.isDescendant(of: .root) && (resolved.isRoot || resolved.isDescendant(of: resolved.parent)),
        "parent"
    )

    let nameBytes = Array(name.utf8)
    let validName =
        !nameBytes.isEmpty && nameBytes != [0x2E] && nameBytes != [0x2E, 0x2E] && !nameBytes.contains(0x2F)
        && !nameBytes.contains(0) && nameBytes.count <= VirtualPath.maximumComponentLength
    if let appended = try? resolved.appending(name) {
        check(validName, "appending accepted \(name.debugDescription)")
        check(appended.parent == resolved && appended.name.map { Array($0.utf8) } == nameBytes, "appending \(name)")
        if appended.components.count <= VirtualPath.maximumDepth { checkNormalised(appended, name) }
    } else {
        check(!validName, "appending refused the valid name \(name.debugDescription)")
    }
    return 0
}

runFuzzer(fuzzOne)
