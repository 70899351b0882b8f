import FerryProtocol

/// Where each command is handled: one exhaustive switch, so a new verb does not compile until it has a home.
extension Session {
    func dispatch(_ command: FTPCommand) async {
        guard command.allowedBeforeLogin || self.isLoggedIn else {
            await self.reply(.notLoggedIn, "Please log in with USER and PASS.")
            return
        }
        // RFC 959: RNTO must come right after RNFR. REST (and RANG) apply to the transfer command that follows;
        // setting up the data connection or the type in between is what clients do, anything else forgets them.
        if case .rnto = command {} else { self.renameFrom = nil }
        switch command {
        case .rest, .rang, .retr, .stor, .appe, .hash, .pasv, .epsv, .port, .eprt, .type: break
        default:
            self.restartOffset = 0
            self.byteRange = nil
        }

        switch command {
        // Session+Login.swift
        case .user(let name): await self.handleUSER(name)
        case .pass(let password): await self.handlePASS(password)
        case .acct: await self.reply(.commandSuperfluous, "ACCT not needed.")
        case .quit: await self.handleQUIT()
        // Session+Info.swift
        case .noop: await self.reply(.commandOK, "NOOP ok.")
        case .syst: await self.reply(.systemType, "UNIX Type: L8")
        case .feat: await self.handleFEAT()
        case .opts(let options): await self.handleOPTS(options)
        case .help(let topic): await self.handleHELP(topic)
        case .stat(nil): await self.handleSTAT()
        case .stat(let path?): await self.handleSTAT(path: path)
        case .type(let type): await self.handleTYPE(type)
        case .mode: await self.reply(.commandOK, "Mode set to S.")
        case .stru: await self.reply(.commandOK, "Structure set to F.")
        case .allo(let size): await self.handleALLO(size)
        case .site(let arguments): await self.handleSITE(arguments)
        // Session+TLS.swift
        case .auth(let mechanism): await self.handleAUTH(mechanism)
        case .pbsz(let size): await self.handlePBSZ(size)
        case .prot(let level): await self.handlePROT(level)
        case .ccc: await self.handleCCC()
        // Session+Quota.swift
        case .avbl(let path): await self.handleAVBL(path)
        // Session+Checksums.swift
        case .hash(let path): await self.handleHASH(path)
        case .rang(let argument): await self.handleRANG(argument)
        case .legacyChecksum(let algorithm, let argument): await self.handleLegacyChecksum(algorithm, argument)
        // Session+Navigation.swift
        case .pwd: await self.reply(.pathCreated, FTPReply.quotedPath(self.cwd.string) + " is the current directory.")
        case .cwd(let path): await self.handleCWD(path)
        case .cdup: await self.handleCWD("..")
        case .mkd(let path): await self.handleMKD(path)
        case .rmd(let path): await self.handleRMD(path)
        case .dele(let path): await self.handleDELE(path)
        case .rnfr(let path): await self.handleRNFR(path)
        case .rnto(let path): await self.handleRNTO(path)
        case .size(let path): await self.handleSIZE(path)
        case .mdtm(let path): await self.handleMDTM(path)
        // Session+DataSetup.swift
        case .pasv: await self.handlePASV()
        case .epsv(let argument): await self.handleEPSV(argument)
        case .port(let target): await self.handlePORT(target, extended: false)
        case .eprt(let target): await self.handlePORT(target, extended: true)
        // Session+Transfer.swift
        case .rest(let offset): await self.handleREST(offset)
        case .retr(let path): await self.handleRETR(path)
        case .stor(let path): await self.handleSTOR(path, append: false)
        case .appe(let path): await self.handleSTOR(path, append: true)
        case .abor: await self.reply(.dataConnectionOpenNoTransfer, "No transfer to abort.")
        // Session+Listing.swift
        case .list(let path): await self.handleLIST(path, format: .long)
        case .nlst(let path): await self.handleLIST(path, format: .names)
        case .mlsd(let path): await self.handleLIST(path, format: .machine)
        case .mlst(let path): await self.handleMLST(path)
        }
    }

    var isLoggedIn: Bool {
        if case .loggedIn = self.login { return true }
        return false
    }

    var user: LoggedInUser? {
        if case .loggedIn(let user) = self.login { return user }
        return nil
    }

    /// Resolves a client path against the working directory, replying 553 if it is not a valid name.
    func resolve(_ text: String) async -> VirtualPath? {
        do {
            return try VirtualPath(resolving: text, from: self.cwd)
        } catch {
            await self.reply(error.reply)
            return nil
        }
    }

    /// Runs a blocking jail operation on the file I/O pool and returns its result, or replies with its error.
    func withJail<T: Sendable>(_ body: @escaping @Sendable (Jail) throws(JailError) -> T) async -> T? {
        guard let jail = self.user?.jail else {
            await self.reply(.notLoggedIn, "Please log in with USER and PASS.")
            return nil
        }
        do {
            return try await self.context.fileIO.runIfActive { () throws -> T in try body(jail) }
        } catch let error as JailError {
            if error.escapes {
                self.logger.warning("jail escape refused", metadata: ["path": "\(error.path)"])
            }
            await self.reply(error.reply)
            return nil
        } catch {
            await self.reply(.localError, "Local error in processing.")
            return nil
        }
    }
}

extension FTPReplyCode {
    /// RFC 959: data connection open; no transfer in progress.
    static let dataConnectionOpenNoTransfer = FTPReplyCode(225)
}
