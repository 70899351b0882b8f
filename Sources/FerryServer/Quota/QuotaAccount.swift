import FerryProtocol
import FerryUsers
import Logging
import NIOConcurrencyHelpers

/// The disk usage books of one user, shared by all of that user's sessions.
///
/// Usage is tracked incrementally: every upload, delete and replacing rename changes the books by exactly what it
/// changed on disk, and the user store is updated with the same delta. The home is walked only at start-up and on
/// `ferryd user rescan`.
///
/// Exactness under concurrency comes from two locks:
/// - `state` guards the numbers. Uploads *reserve* their growth as bytes arrive, so two uploads of one user can
///   never together pass the limit: a reservation that would is refused and that upload stops with 552.
/// - `changes` serialises the operations that change the books by what is on disk (commit of an upload, DELE,
///   RNTO over a file): each one looks at the target's size and changes the disk while holding it, so the size it
///   accounts for is the size it replaced.
///
/// `@unchecked Sendable`: all mutable state is behind `state`; `changes` is a lock.
public final class QuotaAccount: @unchecked Sendable {
    struct State {
        var usedBytes: Int64
        var usedFiles: Int64
        var limitBytes: Int64?
        var limitFiles: Int64?
        /// Growth reserved by uploads in flight.
        var reservedBytes: Int64 = 0
        var reservedFiles: Int64 = 0
        var activeUploads = 0
        /// Files whose size is credited to an upload in flight that will replace them.
        var credited: Set<TargetKey> = []
        /// Deltas applied here but not yet written to the user store.
        var pendingWrites = 0
        /// Bumped by every change, so a refresh from the store never overwrites a newer change.
        var generation = 0
    }

    let name: String
    let state: NIOLockedValueBox<State>
    let changes = NIOLock()

    init(record: UserRecord) {
        self.name = record.name
        self.state = NIOLockedValueBox(
            State(
                usedBytes: record.usedBytes,
                usedFiles: record.usedFiles,
                limitBytes: record.quotaBytes,
                limitFiles: record.quotaFiles
            )
        )
    }

    /// What SITE QUOTA, AVBL, STAT and MLST report.
    public struct Status: Sendable, Equatable {
        public var usedBytes: Int64
        public var usedFiles: Int64
        public var limitBytes: Int64?
        public var limitFiles: Int64?
        public var reservedBytes: Int64

        /// Bytes an upload may still add (nil: no limit).
        public var availableBytes: Int64? {
            self.limitBytes.map { max(0, $0 - self.usedBytes - self.reservedBytes) }
        }
    }

    public var status: Status {
        self.state.withLockedValue {
            Status(
                usedBytes: $0.usedBytes,
                usedFiles: $0.usedFiles,
                limitBytes: $0.limitBytes,
                limitFiles: $0.limitFiles,
                reservedBytes: $0.reservedBytes
            )
        }
    }

    /// Takes the limits (always) and the usage (when nothing of this user is in flight) from the store, so that
    /// `ferryd user quota` and `ferryd user rescan` take effect while the server runs.
    func refresh(from record: UserRecord, readAtGeneration generation: Int) {
        self.state.withLockedValue { state in
            state.limitBytes = record.quotaBytes
            state.limitFiles = record.quotaFiles
            if state.activeUploads == 0 && state.pendingWrites == 0 && state.generation == generation {
                state.usedBytes = record.usedBytes
                state.usedFiles = record.usedFiles
            }
        }
    }

    var generation: Int { self.state.withLockedValue { $0.generation } }

    // MARK: - Uploads

    /// Starts the books of one upload to `path`, where `replacing` is the file there now (nil: none).
    ///
    /// An upload that replaces a file reserves only its growth beyond that file's size (the *credit*: those bytes
    /// are counted already and go when it commits). QUOTA: the credit is granted to one upload in flight per file
    /// (device and inode): ten concurrent STORs over one 100 MB file would otherwise each write 100 MB unreserved.
    /// An appending upload (APPE, REST at the end) reserves every byte it receives.
    func beginUpload(
        path: VirtualPath,
        replacing: FileVersion?,
        appending: Bool
    ) throws(QuotaExceeded) -> UploadBooks {
        let isNewFile = replacing == nil
        let target = replacing.map { TargetKey(device: $0.device, inode: $0.inode) }
        let admitted: Result<Int64, QuotaExceeded> = self.state.withLockedValue { state in
            if isNewFile, let limit = state.limitFiles, state.usedFiles + state.reservedFiles + 1 > limit {
                return .failure(QuotaExceeded(status: Self.status(of: state), path: path, kind: .files))
            }
            var credit: Int64 = 0
            if !appending, let target, let replacing, !state.credited.contains(target) {
                state.credited.insert(target)
                credit = replacing.size
            }
            state.activeUploads += 1
            if isNewFile { state.reservedFiles += 1 }
            state.generation += 1
            return .success(credit)
        }
        let credit = try admitted.get()
        return UploadBooks(
            account: self,
            path: path,
            credit: credit,
            creditedTarget: credit > 0 ? target : nil,
            reservesFile: isNewFile
        )
    }

    /// A file by device and inode, for the replace credit.
    struct TargetKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    static func status(of state: State) -> Status {
        Status(
            usedBytes: state.usedBytes,
            usedFiles: state.usedFiles,
            limitBytes: state.limitBytes,
            limitFiles: state.limitFiles,
            reservedBytes: state.reservedBytes
        )
    }

    /// Counts a new directory as one file (MKD), if the file-count limit leaves room for it beside the uploads in
    /// flight. Call under `changes`, before creating it; `rollbackDirectory` undoes it if the creation fails, and
    /// otherwise one `persist(bytes: 0, files: 1)` must follow.
    func admitDirectory(path: VirtualPath) throws(QuotaExceeded) {
        let admitted: Result<Void, QuotaExceeded> = self.state.withLockedValue { state in
            if let limit = state.limitFiles, state.usedFiles + state.reservedFiles + 1 > limit {
                return .failure(QuotaExceeded(status: Self.status(of: state), path: path, kind: .files))
            }
            state.usedFiles += 1
            state.pendingWrites += 1
            state.generation += 1
            return .success(())
        }
        try admitted.get()
    }

    /// Undoes `admitDirectory` when the directory could not be created after all.
    func rollbackDirectory() {
        self.state.withLockedValue { state in
            state.usedFiles = max(0, state.usedFiles - 1)
            state.pendingWrites -= 1
            state.generation += 1
        }
    }

    /// Applies a change the caller has just made on disk (under `changes`). Every `apply` (and every successful
    /// `UploadBooks.admit`) must be followed by exactly one `persist` of the same delta.
    func apply(bytes: Int64, files: Int64) {
        self.state.withLockedValue { state in
            state.usedBytes = max(0, state.usedBytes + bytes)
            state.usedFiles = max(0, state.usedFiles + files)
            state.pendingWrites += 1
            state.generation += 1
        }
    }

    /// Writes a delta to the user store; the books stay authoritative meanwhile.
    func persist(bytes: Int64, files: Int64, store: UserStore, logger: Logger) async {
        // The generation moves when the write is done too: a refresh that read the store before it (a stale value)
        // then finds another generation and does not apply what it read.
        defer {
            self.state.withLockedValue {
                $0.pendingWrites -= 1
                $0.generation += 1
            }
        }
        guard bytes != 0 || files != 0 else { return }
        do {
            try await store.adjustUsage(name: self.name, bytesDelta: bytes, filesDelta: files)
        } catch {
            logger.error("cannot record usage", metadata: ["user": "\(self.name)", "error": "\(error)"])
        }
    }
}

/// The running books of one upload: what it reserved, and how it ends (commit or release).
///
/// `@unchecked Sendable`: `reserved` is only touched under the account's lock.
final class UploadBooks: @unchecked Sendable {
    let account: QuotaAccount
    let path: VirtualPath
    /// Size of the file being replaced when the upload started: growth is counted beyond it.
    let credit: Int64
    let creditedTarget: QuotaAccount.TargetKey?
    let reservesFile: Bool
    private var reserved: Int64 = 0
    private var finished = false

    init(
        account: QuotaAccount,
        path: VirtualPath,
        credit: Int64,
        creditedTarget: QuotaAccount.TargetKey?,
        reservesFile: Bool
    ) {
        self.account = account
        self.path = path
        self.credit = credit
        self.creditedTarget = creditedTarget
        self.reservesFile = reservesFile
    }

    /// Called as bytes arrive, *before* they are written: the temporary file now holds `size` bytes.
    /// Throws (and reserves nothing) if the growth would pass the limit.
    func reserve(size: Int64) throws(QuotaExceeded) {
        let result: Result<Void, QuotaExceeded> = self.account.state.withLockedValue { state in
            let needed = max(0, size - self.credit)
            let more = needed - self.reserved
            guard more > 0 else { return .success(()) }
            if let limit = state.limitBytes, state.usedBytes + state.reservedBytes + more > limit {
                return .failure(QuotaExceeded(status: QuotaAccount.status(of: state), path: self.path, kind: .bytes))
            }
            state.reservedBytes += more
            self.reserved = needed
            state.generation += 1
            return .success(())
        }
        try result.get()
    }

    /// Decides, under the account's `changes` lock and just before the rename, whether the finished upload fits:
    /// it replaces a file of `previousSize` (nil: none) with `newSize` bytes. On success the books are changed
    /// and the delta for the store is returned; the caller must rename, or call `rollback` if that fails.
    func admit(previousSize: Int64?, newSize: Int64) throws(QuotaExceeded) -> (bytes: Int64, files: Int64) {
        let result: Result<(bytes: Int64, files: Int64), QuotaExceeded> = self.account.state.withLockedValue { state in
            let bytes = newSize - (previousSize ?? 0)
            let files: Int64 = previousSize == nil ? 1 : 0
            let othersReserved = state.reservedBytes - self.reserved
            let othersFiles = state.reservedFiles - (self.reservesFile ? 1 : 0)
            if bytes > 0, let limit = state.limitBytes, state.usedBytes + bytes + othersReserved > limit {
                return .failure(QuotaExceeded(status: QuotaAccount.status(of: state), path: self.path, kind: .bytes))
            }
            if files > 0, let limit = state.limitFiles, state.usedFiles + files + othersFiles > limit {
                return .failure(QuotaExceeded(status: QuotaAccount.status(of: state), path: self.path, kind: .files))
            }
            state.usedBytes = max(0, state.usedBytes + bytes)
            state.usedFiles = max(0, state.usedFiles + files)
            self.releaseLocked(&state)
            state.pendingWrites += 1
            return .success((bytes, files))
        }
        return try result.get()
    }

    /// Undoes `admit` when the rename failed after all.
    func rollback(_ delta: (bytes: Int64, files: Int64)) {
        self.account.state.withLockedValue { state in
            state.usedBytes = max(0, state.usedBytes - delta.bytes)
            state.usedFiles = max(0, state.usedFiles - delta.files)
            state.pendingWrites -= 1
            state.generation += 1
        }
    }

    /// Gives back what the upload reserved (it was discarded). Safe to call after `admit`: it does nothing then.
    func release() {
        self.account.state.withLockedValue { state in self.releaseLocked(&state) }
    }

    private func releaseLocked(_ state: inout QuotaAccount.State) {
        guard !self.finished else { return }
        self.finished = true
        state.reservedBytes -= self.reserved
        if self.reservesFile { state.reservedFiles -= 1 }
        if let target = self.creditedTarget { state.credited.remove(target) }
        state.activeUploads -= 1
        state.generation += 1
        self.reserved = 0
    }
}

/// An upload or file creation that would pass the user's quota: 552 with used and allowed amounts.
struct QuotaExceeded: FTPReplyError, CustomStringConvertible {
    enum Kind {
        case bytes
        case files
    }

    var status: QuotaAccount.Status
    var path: VirtualPath
    var kind: Kind

    var description: String {
        switch self.kind {
        case .bytes:
            let limit = self.status.limitBytes ?? 0
            return "Quota exceeded: \(ByteSize.format(self.status.usedBytes)) (\(self.status.usedBytes) bytes) used of "
                + "\(ByteSize.format(limit)) (\(limit) bytes) allowed; \(self.path) was not stored."
        case .files:
            return
                "File quota exceeded: \(self.status.usedFiles) files and directories used of "
                + "\(self.status.limitFiles ?? 0) allowed; \(self.path) was not created."
        }
    }

    var reply: FTPReply { FTPReply(.exceededStorage, self.description) }
}
