import FerryProtocol

/// FEAT, OPTS, HELP, STAT, TYPE, SITE.
extension Session {
    /// The FEAT reply (RFC 2389): exactly what is implemented, one feature per line, each indented by a space.
    var featureLines: [String] {
        (self.context.tls == nil ? [] : ["AUTH TLS", "PBSZ", "PROT"]) + [
            "AVBL",
            "EPRT",
            "EPSV",
            HashAlgorithm.featLine(selected: self.hashAlgorithm),
            "MDTM",
            MLSFact.featLine(enabled: self.mlstFacts),
            "PASV",
            ByteRange.featLine,
            "REST STREAM",
            "SITE EXPECT",
            "SIZE",
            "TVFS",
            "UTF8",
        ] + HashAlgorithm.legacyVerbs
    }

    func handleFEAT() async {
        await self.reply(FTPReply(.systemStatus, lines: ["Features:"] + self.featureLines.map { " " + $0 } + ["End"]))
    }

    func handleOPTS(_ options: String) async {
        let name = options.prefix(while: { $0 != " " }).uppercased()
        let value = options.drop(while: { $0 != " " }).dropFirst()
        switch name {
        case "UTF8", "UTF-8":
            // Names are always UTF-8 (RFC 2640); OFF is accepted but changes nothing, as most servers do.
            switch value.uppercased() {
            case "ON", "": await self.reply(.commandOK, "UTF8 mode enabled.")
            case "OFF": await self.reply(.commandOK, "UTF8 mode is always on.")
            default: await self.reply(.syntaxErrorInArguments, "OPTS UTF8 takes ON or OFF.")
            }
        case "MLST":
            self.mlstFacts = MLSFact.parseSelection(String(value))
            await self.reply(.commandOK, "MLST OPTS " + MLSFact.selectionText(self.mlstFacts))
        case "HASH":
            await self.handleOPTSHASH(value.isEmpty ? nil : String(value))
        default:
            await self.reply(.syntaxErrorInArguments, "Option \(name) not understood.")
        }
    }

    static let helpTopics: [(String, String)] = [
        ("ABOR", "ABOR (abort the running transfer)"),
        ("ALLO", "ALLO <bytes> (the size of the next upload: a shorter one is not stored)"),
        ("APPE", "APPE <file> (append to a file)"),
        ("AVBL", "AVBL [<directory>] (bytes still available)"),
        ("CDUP", "CDUP (go to the parent directory)"),
        ("CWD", "CWD <directory>"),
        ("DELE", "DELE <file>"),
        ("EPRT", "EPRT |<proto>|<address>|<port>|"),
        ("EPSV", "EPSV [1|2|ALL]"),
        ("FEAT", "FEAT (list extensions)"),
        ("HASH", "HASH <file> (digest with the OPTS HASH algorithm, over the RANG range)"),
        ("HELP", "HELP [<command>]"),
        ("LIST", "LIST [<path>]"),
        ("MDTM", "MDTM <file> (modification time, UTC)"),
        ("MKD", "MKD <directory>"),
        ("MLSD", "MLSD [<directory>]"),
        ("MLST", "MLST [<path>]"),
        ("MODE", "MODE S"),
        ("NLST", "NLST [<path>]"),
        ("NOOP", "NOOP"),
        ("OPTS", "OPTS UTF8 ON | OPTS MLST <facts>"),
        ("PASS", "PASS <password>"),
        ("PASV", "PASV"),
        ("PORT", "PORT h1,h2,h3,h4,p1,p2"),
        ("PWD", "PWD"),
        ("QUIT", "QUIT"),
        ("RANG", "RANG <start> <end> (inclusive byte range for RETR and HASH; RANG 1 0 resets)"),
        ("REST", "REST <offset>"),
        ("RETR", "RETR <file>"),
        ("RMD", "RMD <directory>"),
        ("RNFR", "RNFR <path>"),
        ("RNTO", "RNTO <path>"),
        ("SITE", "SITE QUOTA | SITE HELP"),
        ("SIZE", "SIZE <file>"),
        ("STAT", "STAT [<path>]"),
        ("STOR", "STOR <file>"),
        ("STRU", "STRU F"),
        ("SYST", "SYST"),
        ("TYPE", "TYPE A|I"),
        ("USER", "USER <name>"),
        ("XCRC", "XCRC <file> [<start> <end>] (also XMD5, XSHA1, XSHA256, XSHA512)"),
        ("XCUP", "XCUP (same as CDUP)"),
        ("XCWD", "XCWD <directory> (same as CWD)"),
        ("XMKD", "XMKD <directory> (same as MKD)"),
        ("XPWD", "XPWD (same as PWD)"),
        ("XRMD", "XRMD <directory> (same as RMD)"),
    ]

    func handleHELP(_ topic: String?) async {
        if let topic {
            let verb = topic.uppercased()
            guard let entry = Self.helpTopics.first(where: { $0.0 == verb }) else {
                await self.reply(.syntaxErrorInArguments, "Unknown command \(verb).")
                return
            }
            await self.reply(.helpMessage, "Syntax: " + entry.1)
            return
        }
        var lines = ["The following commands are recognized:"]
        let verbs = Self.helpTopics.map { $0.0 }
        stride(from: 0, to: verbs.count, by: 8).forEach { start in
            lines.append(" " + verbs[start..<min(start + 8, verbs.count)].joined(separator: " "))
        }
        lines.append("Help OK.")
        await self.reply(FTPReply(.helpMessage, lines: lines))
    }

    /// STAT without argument: the session's status (RFC 959 §4.1.3), also while a transfer runs.
    func handleSTAT() async {
        var lines = ["Ferry FTP server status:"]
        lines.append("Connected from \(self.peer.ipAddress ?? "?")")
        if let user = self.user {
            lines.append("Logged in as \(user.record.name)")
        } else {
            lines.append("Not logged in")
        }
        lines.append("TYPE: \(self.transferType == .ascii ? "ASCII" : "BINARY"), MODE: Stream, STRU: File")
        if let quota = self.user?.quota { lines += Self.quotaLines(quota.status) }
        if let transfer = self.transfer {
            let bytes = transfer.progress.withLockedValue { $0 }
            lines.append("Transfer in progress: \(transfer.description), \(bytes) bytes so far")
        } else {
            lines.append("No data connection")
        }
        lines.append("End of status")
        await self.reply(FTPReply(.systemStatus, lines: lines))
    }

    func handleTYPE(_ type: TransferType) async {
        self.transferType = type
        await self.reply(.commandOK, type == .ascii ? "Type set to A." : "Type set to I.")
    }

    func handleSITE(_ arguments: String) async {
        let name = arguments.prefix(while: { $0 != " " }).uppercased()
        switch name {
        case "HELP":
            await self.reply(
                .helpMessage,
                "SITE commands: QUOTA (your disk usage and limits), EXPECT ALGO HEX [SIZE] (verify the next upload), HELP."
            )
        case "QUOTA":
            await self.handleSITEQUOTA()
        case "EXPECT":
            await self.handleSITEEXPECT(arguments.drop(while: { $0 != " " }).dropFirst())
        default:
            await self.reply(.notImplemented, "SITE \(name) not implemented.")
        }
    }
}
