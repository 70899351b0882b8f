// The server's command parser, `FTPCommand.parse`, on any line the line decoder can produce.
//
// Invariants:
// - It returns a command or a parse error; nothing else (no trap on any input).
// - Verbs are case-insensitive: the line with its verb in lower case parses to the same command (or error).
// - Round trip: a parsed command written back as a line (`format`) parses to the same command, so the parsed value
//   carries everything the server acts on (no argument is silently changed in a way a second parse would notice).
// - Path arguments hold no NUL and at most `FTPCommand.maximumPathLength` bytes.
// - A PASS command's description never shows the password (commands are logged).
import FerryProtocol
import FuzzSupport

/// The command as a client would send it. Where the parser keeps no argument (`ACCT x`), none is written.
func format(_ command: FTPCommand) -> String {
    func with(_ argument: String?) -> String {
        argument.map { "\(command.verb) \($0)" } ?? command.verb
    }
    switch command {
    case .user(let name): return with(name)
    case .pass(let password): return with(password.value.isEmpty ? nil : password.value)
    case .type(.ascii): return "TYPE A"
    case .type(.image): return "TYPE I"
    case .mode: return "MODE S"
    case .stru: return "STRU F"
    case .opts(let text), .site(let text), .auth(let text), .pbsz(let text), .prot(let text), .rang(let text):
        return with(text)
    case .help(let text), .stat(let text), .list(let text), .nlst(let text), .mlsd(let text), .mlst(let text),
        .avbl(let text):
        return with(text)
    case .cwd(let path), .mkd(let path), .rmd(let path), .dele(let path), .rnfr(let path), .rnto(let path),
        .size(let path), .mdtm(let path), .retr(let path), .stor(let path), .appe(let path), .hash(let path),
        .legacyChecksum(_, let path):
        return with(path)
    case .rest(let offset): return with(String(offset))
    case .epsv(.any): return "EPSV"
    case .epsv(.all): return "EPSV ALL"
    case .epsv(.networkProtocol(let number)): return with(String(number))
    case .port(let address):
        let octets = address.host.split(separator: ".").joined(separator: ",")
        return with("\(octets),\(address.port >> 8),\(address.port & 0xFF)")
    case .eprt(let address):
        return with("|\(address.family == .ipv4 ? 1 : 2)|\(address.host)|\(address.port)|")
    case .acct, .quit, .noop, .syst, .feat, .pwd, .cdup, .abor, .pasv, .allo, .ccc:
        return command.verb
    }
}

/// The path argument of commands that take one.
func path(of command: FTPCommand) -> String? {
    switch command {
    case .cwd(let path), .mkd(let path), .rmd(let path), .dele(let path), .rnfr(let path), .rnto(let path),
        .size(let path), .mdtm(let path), .retr(let path), .stor(let path), .appe(let path), .hash(let path),
        .legacyChecksum(_, let path):
        return path
    case .stat(let path?), .list(let path?), .nlst(let path?), .mlsd(let path?), .mlst(let path?), .avbl(let path?):
        return path
    default:
        return nil
    }
}

func parse(_ line: String) -> Result<FTPCommand, FTPCommandParseError> {
    Result { () throws(FTPCommandParseError) in try FTPCommand.parse(line) }
}

/// `line` with its verb (everything before the first space) in ASCII lower case.
func lowercasingVerb(_ line: String) -> String {
    var bytes = Array(line.utf8)
    for index in bytes.indices {
        if bytes[index] == 0x20 { break }
        if bytes[index] >= 0x41 && bytes[index] <= 0x5A { bytes[index] += 0x20 }
    }
    return String(decoding: bytes, as: UTF8.self)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    // What the line decoder hands the parser: valid UTF-8 (invalid bytes already replaced), no LF.
    let line = String(decoding: bytes(data, size).filter { $0 != 0x0A }, as: UTF8.self)
    let result = parse(line)
    check(parse(lowercasingVerb(line)) == result, "the verb's case changed the result of \(line.debugDescription)")
    guard case .success(let command) = result else { return 0 }

    let again = format(command)
    check(
        parse(again) == result,
        "\(line.debugDescription) -> \(command) -> \(again.debugDescription) -> \(parse(again))"
    )
    if let path = path(of: command) {
        check(!path.utf8.contains(0), "a path holds NUL: \(path.debugDescription)")
        check(path.utf8.count <= FTPCommand.maximumPathLength, "a path of \(path.utf8.count) bytes")
    }
    if case .pass(let password) = command, password.value.utf8.count >= 4 {
        for text in [String(describing: command), String(reflecting: command)] {
            check(
                text.firstRange(of: password.value) == nil
                    || text.firstRange(of: "******") != nil
                        && "FerryProtocol.FTPCommand.pass(******)".firstRange(of: password.value) != nil,
                "the description \(text.debugDescription) shows the password"
            )
        }
    }
    return 0
}

runFuzzer(fuzzOne)
