/// A control-connection command, parsed once at the edge so nothing downstream touches raw strings.
///
/// Grammar from RFC 959 §5.3, RFC 2389 (FEAT/OPTS), RFC 2428 (EPRT/EPSV) and RFC 3659 (SIZE/MDTM/REST/MLSx).
/// Verbs are case-insensitive; the argument is everything after the first space, kept verbatim because path names
/// may contain spaces (and may even start or end with one).
///
///     C: RETR my file.txt
///     -> .retr("my file.txt")
public enum FTPCommand: Hashable, Sendable {
    case user(String)
    case pass(Password)
    case acct
    case quit
    case noop
    case syst
    case type(TransferType)
    case mode(TransferMode)
    case stru(FileStructure)
    case feat
    case opts(String)
    case help(String?)
    case stat(String?)
    case pwd
    case cwd(String)
    case cdup
    case mkd(String)
    case rmd(String)
    case dele(String)
    case rnfr(String)
    case rnto(String)
    case list(String?)
    case nlst(String?)
    case mlsd(String?)
    case mlst(String?)
    case size(String)
    case mdtm(String)
    case retr(String)
    case stor(String)
    case appe(String)
    case rest(Int64)
    case abor
    case pasv
    case epsv(EPSVArgument)
    case port(HostPort)
    case eprt(HostPort)
    /// `ALLO n [R m]`: the size of the next upload (RFC 959 §4.1.3); nil without a number.
    case allo(Int64?)
    case site(String)
    /// `AVBL [path]`: bytes still available for uploads (draft-peterson-streamlined-ftp-command-extensions).
    case avbl(String?)
    /// `AUTH TLS` / `AUTH SSL` (RFC 2228, RFC 4217 §4): switch the control connection to TLS.
    case auth(String)
    /// `PBSZ 0` (RFC 4217 §8): protection buffer size, always 0 with TLS.
    case pbsz(String)
    /// `PROT C|P` (RFC 4217 §9): clear or private (TLS) data connections.
    case prot(String)
    /// `CCC` (RFC 4217 §6): back to a clear control connection; always refused.
    case ccc
    /// `HASH path` (draft-bryan-ftpext-hash-02).
    case hash(String)
    /// `RANG start end` (draft-bryan-ftp-range-08), parsed by the session so a bad range can reset the selection.
    case rang(String)
    /// `XCRC`, `XMD5`, `XSHA`, `XSHA1`, `XSHA256`, `XSHA512`: `path [start end]`, parsed by the session.
    case legacyChecksum(HashAlgorithm, String)

    /// A password as typed by the client. Its description never reveals it, so a logged command is safe.
    public struct Password: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible,
        CustomReflectable
    {
        public var value: String
        public init(_ value: String) { self.value = value }
        public var description: String { "******" }
        public var debugDescription: String { "******" }
        /// No children: `dump` and debuggers show nothing of the secret.
        public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
    }

    /// The verb as the client would send it, for logs and replies.
    public var verb: String {
        switch self {
        case .user: return "USER"
        case .pass: return "PASS"
        case .acct: return "ACCT"
        case .quit: return "QUIT"
        case .noop: return "NOOP"
        case .syst: return "SYST"
        case .type: return "TYPE"
        case .mode: return "MODE"
        case .stru: return "STRU"
        case .feat: return "FEAT"
        case .opts: return "OPTS"
        case .help: return "HELP"
        case .stat: return "STAT"
        case .pwd: return "PWD"
        case .cwd: return "CWD"
        case .cdup: return "CDUP"
        case .mkd: return "MKD"
        case .rmd: return "RMD"
        case .dele: return "DELE"
        case .rnfr: return "RNFR"
        case .rnto: return "RNTO"
        case .list: return "LIST"
        case .nlst: return "NLST"
        case .mlsd: return "MLSD"
        case .mlst: return "MLST"
        case .size: return "SIZE"
        case .mdtm: return "MDTM"
        case .retr: return "RETR"
        case .stor: return "STOR"
        case .appe: return "APPE"
        case .rest: return "REST"
        case .abor: return "ABOR"
        case .pasv: return "PASV"
        case .epsv: return "EPSV"
        case .port: return "PORT"
        case .eprt: return "EPRT"
        case .allo: return "ALLO"
        case .site: return "SITE"
        case .avbl: return "AVBL"
        case .auth: return "AUTH"
        case .pbsz: return "PBSZ"
        case .prot: return "PROT"
        case .ccc: return "CCC"
        case .hash: return "HASH"
        case .rang: return "RANG"
        case .legacyChecksum(let algorithm, _): return algorithm.legacyVerb
        }
    }

    /// Commands accepted before login (vsftpd's `prelogin.c` rule): everything else gets 530.
    public var allowedBeforeLogin: Bool {
        switch self {
        case .user, .pass, .acct, .quit, .noop, .syst, .feat, .opts, .help, .auth, .pbsz, .prot, .ccc: return true
        default: return false
        }
    }

    /// Commands answered at once even while a transfer is running on the data connection (RFC 959 §4.1.3:
    /// ABOR, STAT and QUIT are the "special" ones). Other commands wait until the transfer has finished.
    public var isTransferControl: Bool {
        switch self {
        case .abor, .stat(nil), .quit, .noop: return true
        default: return false
        }
    }
}

/// `TYPE` (RFC 959 §3.1.1). `L 8` is treated as image, as every modern server does.
public enum TransferType: Hashable, Sendable {
    case ascii
    case image
}

/// `MODE`: only stream mode is implemented.
public enum TransferMode: Hashable, Sendable { case stream }

/// `STRU`: only file structure is implemented.
public enum FileStructure: Hashable, Sendable { case file }

/// The argument of `EPSV` (RFC 2428 §3).
public enum EPSVArgument: Hashable, Sendable {
    /// No argument: use the control connection's address family.
    case any
    /// `EPSV 1` / `EPSV 2`: a network protocol number.
    case networkProtocol(Int)
    /// `EPSV ALL`: from now on only EPSV may set up data connections.
    case all
}

/// Why a command line could not be turned into an `FTPCommand`, with the reply the client gets.
public struct FTPCommandParseError: Error, Hashable, Sendable {
    public var reply: FTPReply
    public init(_ code: FTPReplyCode, _ text: String) { self.reply = FTPReply(code, text) }
}

extension FTPCommand {
    /// The longest path argument accepted, in bytes (Linux PATH_MAX).
    public static let maximumPathLength = 4096

    /// Parses one control line (without its CRLF; Telnet sequences already removed by the line decoder).
    public static func parse(_ line: String) throws(FTPCommandParseError) -> FTPCommand {
        // Split on the first space *scalar*: splitting on Characters would let a combining mark glue the
        // space to the argument's first letter and hide it.
        let scalars = line.unicodeScalars
        let verb: Substring
        let rawArgument: Substring?
        if let space = scalars.firstIndex(of: " ") {
            verb = Substring(scalars[..<space])
            rawArgument = Substring(scalars[scalars.index(after: space)...])
        } else {
            verb = Substring(line)
            rawArgument = nil
        }
        // An empty argument ("CWD ") counts as no argument.
        let argument: String? = rawArgument.flatMap { $0.isEmpty ? nil : String($0) }
        // Verbs are letters (RFC 959: 3 or 4), except the de-facto checksum verbs such as XSHA256.
        guard !verb.isEmpty, verb.utf8.count <= 7, Self.isASCIILetter(verb.utf8.first!),
            verb.utf8.allSatisfy({ Self.isASCIILetter($0) || ($0 >= 0x30 && $0 <= 0x39) })
        else {
            throw FTPCommandParseError(.syntaxError, "Syntax error, command unrecognized.")
        }

        func required() throws(FTPCommandParseError) -> String {
            guard let argument else {
                throw FTPCommandParseError(.syntaxErrorInArguments, "\(verb.uppercased()) needs an argument.")
            }
            return argument
        }
        func path() throws(FTPCommandParseError) -> String {
            try Self.validatePath(try required())
        }
        func optionalPath() throws(FTPCommandParseError) -> String? {
            guard let argument else { return nil }
            return try Self.validatePath(argument)
        }
        func noArgument(_ command: FTPCommand) throws(FTPCommandParseError) -> FTPCommand {
            guard argument == nil else {
                throw FTPCommandParseError(.syntaxErrorInArguments, "\(verb.uppercased()) takes no argument.")
            }
            return command
        }

        switch verb.uppercased() {
        case "USER": return .user(try required())
        case "PASS": return .pass(Password(argument ?? ""))
        case "ACCT": return .acct
        case "QUIT": return .quit
        case "NOOP": return .noop
        case "SYST": return try noArgument(.syst)
        case "TYPE": return .type(try Self.parseType(try required()))
        case "MODE":
            guard try required().uppercased() == "S" else {
                throw FTPCommandParseError(.parameterNotImplemented, "Only stream mode (MODE S) is supported.")
            }
            return .mode(.stream)
        case "STRU":
            guard try required().uppercased() == "F" else {
                throw FTPCommandParseError(.parameterNotImplemented, "Only file structure (STRU F) is supported.")
            }
            return .stru(.file)
        case "FEAT": return .feat
        case "OPTS": return .opts(try required())
        case "HELP": return .help(argument)
        case "STAT": return .stat(try Self.listingArgument(argument))
        case "PWD", "XPWD": return .pwd
        case "CWD", "XCWD": return .cwd(try path())
        case "CDUP", "XCUP": return .cdup
        case "MKD", "XMKD": return .mkd(try path())
        case "RMD", "XRMD": return .rmd(try path())
        case "DELE": return .dele(try path())
        case "RNFR": return .rnfr(try path())
        case "RNTO": return .rnto(try path())
        case "LIST": return .list(try Self.listingArgument(argument))
        case "NLST": return .nlst(try Self.listingArgument(argument))
        case "MLSD": return .mlsd(try optionalPath())
        case "MLST": return .mlst(try optionalPath())
        case "SIZE": return .size(try path())
        case "MDTM": return .mdtm(try path())
        case "RETR": return .retr(try path())
        case "STOR": return .stor(try path())
        case "APPE": return .appe(try path())
        case "REST":
            let text = try required()
            guard text.utf8.count <= 19, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let offset = Int64(text)
            else {
                throw FTPCommandParseError(.syntaxErrorInArguments, "REST needs a non-negative byte offset.")
            }
            return .rest(offset)
        case "ABOR": return .abor
        case "PASV": return .pasv
        case "EPSV": return .epsv(try EPSVArgument.parse(argument))
        case "PORT": return .port(try HostPort.parsePORT(try required()))
        case "EPRT": return .eprt(try HostPort.parseEPRT(try required()))
        case "ALLO":
            // RFC 959: `ALLO <decimal> [<SP> R <SP> <decimal>]`; the record size is meaningless for stream mode.
            guard let text = argument?.split(separator: " ").first else { return .allo(nil) }
            guard text.utf8.count <= 19, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let size = Int64(text)
            else {
                throw FTPCommandParseError(.syntaxErrorInArguments, "ALLO needs a number of bytes.")
            }
            return .allo(size)
        case "SITE": return .site(try required())
        case "AVBL": return .avbl(try optionalPath())
        case "AUTH": return .auth(try required())
        case "PBSZ": return .pbsz(try required())
        case "PROT": return .prot(try required())
        case "CCC": return .ccc
        case "HASH": return .hash(try path())
        case "RANG": return .rang(try required())
        case "XCRC", "XMD5", "XSHA", "XSHA1", "XSHA256", "XSHA512":
            return .legacyChecksum(HashAlgorithm(legacyVerb: verb.uppercased())!, try path())
        default:
            throw FTPCommandParseError(.notImplemented, "Command \(verb.uppercased()) not implemented.")
        }
    }

    static func isASCIILetter(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }

    /// Checks a path argument for bytes no file name may hold and for absurd lengths. Jail rules are
    /// `VirtualPath`'s job; this only rejects what can never name a file.
    static func validatePath(_ path: String) throws(FTPCommandParseError) -> String {
        guard path.utf8.count <= Self.maximumPathLength else {
            throw FTPCommandParseError(.syntaxErrorInArguments, "Path too long.")
        }
        guard !path.utf8.contains(0) else {
            throw FTPCommandParseError(.syntaxErrorInArguments, "Path contains a NUL byte.")
        }
        return path
    }

    /// LIST/NLST/STAT accept `ls`-style option words before the path (`LIST -la`, `LIST -a dir`), which many
    /// clients send. They are dropped; what remains is the path, or nil for the current directory.
    static func listingArgument(_ argument: String?) throws(FTPCommandParseError) -> String? {
        guard let argument else { return nil }
        // Scalars, not Characters: a combining mark after the space must not glue a name to the option word.
        var rest = Substring(argument).unicodeScalars[...]
        while rest.first == "-" {
            let word = rest.prefix(while: { $0 != " " })
            // Only words made of ASCII letters are options: "-rf" is, "-my-file.txt" is a name.
            guard word.count >= 2, word.dropFirst().allSatisfy({ $0.properties.isAlphabetic && $0.isASCII }) else {
                break
            }
            rest = rest.dropFirst(word.count).drop(while: { $0 == " " })
        }
        if rest.isEmpty { return nil }
        return try Self.validatePath(String(Substring(rest)))
    }

    static func parseType(_ argument: String) throws(FTPCommandParseError) -> TransferType {
        let words = argument.split(separator: " ").map { $0.uppercased() }
        switch words.first {
        case "A"?:
            // Only the default format control (N, non-print) is supported.
            if words.count == 1 || (words.count == 2 && words[1] == "N") { return .ascii }
            throw FTPCommandParseError(.parameterNotImplemented, "Only TYPE A N is supported for ASCII.")
        case "I"?:
            if words.count == 1 { return .image }
        case "L"?:
            if words.count == 2 && words[1] == "8" { return .image }
            throw FTPCommandParseError(.parameterNotImplemented, "Only TYPE L 8 is supported.")
        case "E"?:
            throw FTPCommandParseError(.parameterNotImplemented, "EBCDIC is not supported.")
        default:
            break
        }
        throw FTPCommandParseError(.syntaxErrorInArguments, "Unknown TYPE '\(argument)'.")
    }
}

extension EPSVArgument {
    static func parse(_ argument: String?) throws(FTPCommandParseError) -> EPSVArgument {
        guard let argument else { return .any }
        if argument.uppercased() == "ALL" { return .all }
        if let number = Int(argument), number > 0 { return .networkProtocol(number) }
        throw FTPCommandParseError(.syntaxErrorInArguments, "EPSV takes ALL or a network protocol number.")
    }
}
