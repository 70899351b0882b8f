import FerryProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// SITE QUOTA and AVBL: what a user has used and may still store. STAT and MLST / report the same numbers.
extension Session {
    /// `SITE QUOTA`: usage against the limits, human-readable and with exact byte counts.
    func handleSITEQUOTA() async {
        guard let user = self.user else { return }
        await self.context.ledger.refresh(user.quota)
        let lines = ["Quota for \(user.record.name):"] + Self.quotaLines(user.quota.status) + ["End"]
        await self.reply(FTPReply(.commandOK, lines: lines))
    }

    static func quotaLines(_ status: QuotaAccount.Status) -> [String] {
        func bytes(_ value: Int64) -> String { "\(ByteSize.format(value)) (\(value) bytes)" }
        var lines: [String] = []
        if let limit = status.limitBytes {
            lines.append(
                " Bytes: \(bytes(status.usedBytes)) used of \(bytes(limit)), \(bytes(status.availableBytes ?? 0)) available"
            )
        } else {
            lines.append(" Bytes: \(bytes(status.usedBytes)) used, no limit")
        }
        if let limit = status.limitFiles {
            lines.append(" Files: \(status.usedFiles) of \(limit)")
        } else {
            lines.append(" Files: \(status.usedFiles), no limit")
        }
        return lines
    }

    /// `AVBL [path]`: `213 <bytes>`, the smaller of what the quota allows and what the file system has free.
    func handleAVBL(_ text: String?) async {
        guard let user = self.user, let path = await self.resolve(text ?? ".") else { return }
        guard
            let free = await self.withJail({ jail throws(JailError) -> Int64 in
                let facts = try jail.facts(at: path)
                guard facts.kind == .directory else { throw JailError(errno: ENOTDIR, path: path) }
                return jail.freeSpace()
            })
        else { return }
        await self.context.ledger.refresh(user.quota)
        let available = min(free, user.quota.status.availableBytes ?? .max)
        await self.reply(.fileStatus, String(available))
    }

    /// Extra MLST facts for the root: usage and limit (RFC 3659 §7.1 local facts, `X.` prefix).
    var quotaFacts: [(String, String)] {
        guard let status = self.user?.quota.status else { return [] }
        return [
            ("X.quota-used", String(status.usedBytes)),
            ("X.quota-limit", status.limitBytes.map(String.init) ?? "unlimited"),
            ("X.quota-files", String(status.usedFiles)),
        ]
    }
}
