import ArgumentParser
import FerryCLI
import FerryClient
import FerryProtocol
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Files still to transfer, handed out to the parallel sessions one at a time.
actor WorkQueue<Item: Sendable> {
    private var items: [Item]
    init(_ items: [Item]) { self.items = items.reversed() }
    func next() -> Item? { self.items.popLast() }
}

extension Ferry {
    struct Mirror: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy a directory tree: only new or changed files, in parallel (-j N).",
            discussion: """
                ferry mirror ftp://user@host/dir LOCALDIR          download
                ferry mirror --reverse LOCALDIR ftp://user@host/dir upload
                A file counts as changed when its size differs or the source is newer.
                """
        )
        @OptionGroup var options: ConnectionOptions
        @Flag(help: "Upload the local tree instead of downloading the remote one.") var reverse = false
        @Option(name: .short, help: "Parallel transfers (one connection each).") var jobs: Int = 4
        @Argument(help: "Source (a URL, or a local directory with --reverse).") var source: String
        @Argument(help: "Target (a local directory, or a URL with --reverse).") var target: String

        func validate() throws {
            guard (1...32).contains(self.jobs) else { throw ValidationError("-j must be 1-32") }
        }

        struct Item: Sendable {
            var relative: String
            var size: Int64
            var modified: Int64?
        }

        func run() async throws {
            let remote = try RemoteURL(self.reverse ? self.target : self.source, plain: self.options.plain)
            let local = self.reverse ? self.source : self.target
            // Read the password once: the parallel sessions share it.
            let password =
                self.options.passwordStdin && remote.password == nil
                ? readLine(strippingNewline: true) : nil
            try await runReportingFailures {
                if self.reverse {
                    try await self.upload(local, to: remote, password: password)
                } else {
                    try await self.download(remote, to: local, password: password)
                }
            }
        }

        /// An entry of a remote listing that cannot become a local name.
        struct Refused: Sendable {
            /// The listed directory, on the server.
            var directory: String
            var name: String
            var problem: RemoteNameProblem
        }

        /// Every file below `root` on the server, with sizes and times; creates nothing.
        ///
        /// SECURITY: the names come from the server. One that is not a single safe component (see `RemoteName`:
        /// `../../x`, `/abs`, `a/b`, NUL, over-long, a `.NAME.ferry-part` look-alike) is refused, not descended into,
        /// and reported in `refused`; the paths returned are joined from checked names only. (`.` and `..`, and
        /// MLSD's `cdir`/`pdir`, never get here: `FTPClient.list` drops them, as every listing has them.)
        static func remoteTree(
            _ client: FTPClient,
            root: String
        ) async throws -> (files: [Item], directories: [String], refused: [Refused]) {
            var files: [Item] = []
            var directories: [String] = []
            var refused: [Refused] = []
            var pending = [""]
            while let relative = pending.popLast() {
                let path = relative.isEmpty ? root : root + "/" + relative
                for entry in try await client.list(path) {
                    if let problem = RemoteName.problem(with: entry.name) {
                        refused.append(Refused(directory: path, name: entry.name, problem: problem))
                        continue
                    }
                    let child = relative.isEmpty ? entry.name : relative + "/" + entry.name
                    switch entry.kind {
                    case .directory:
                        directories.append(child)
                        pending.append(child)
                    case .file:
                        files.append(Item(relative: child, size: entry.size ?? 0, modified: entry.modified))
                    case .symlink, .other:
                        continue
                    }
                }
            }
            return (files, directories.sorted(), refused)
        }

        /// The names of a relative path joined from checked names. Split on the scalar `/`, not on `Character`s: a
        /// name may begin with a combining mark, which would fuse with the `/` before it into one `Character`.
        static func components(_ relative: String) -> [String] {
            relative.unicodeScalars.split(separator: "/").map { String(String.UnicodeScalarView($0)) }
        }

        /// Whether `path` is `directory` or lies beneath it (compared as bytes, like the kernel does).
        static func isWithin(_ path: String, _ directory: String) -> Bool {
            path == directory || path.utf8.starts(with: (directory + "/").utf8)
        }

        func download(_ remote: RemoteURL, to local: String, password: String?) async throws {
            let root =
                remote.serverPath.hasSuffix("/") && remote.serverPath.count > 1
                ? String(remote.serverPath.dropLast()) : remote.serverPath
            let tree = try await withSession(remote, self.options, passwordFromStdin: password) {
                try await Self.remoteTree($0, root: root)
            }
            // Refused names are skipped, each with a line naming it and why; the rest is mirrored, and the exit
            // code says the copy is incomplete.
            for refused in tree.refused {
                complain(
                    "mirror: refusing the entry \(RemoteName.escaped(refused.name)) listed in \(refused.directory): "
                        + "\(refused.problem)"
                )
            }
            // Everything below is written through descriptors opened without following links (LocalDirectory):
            // nothing lands outside `local`, whatever is planted in it.
            let target = try LocalDirectory(path: local, create: true)
            var blocked: [String] = []
            for directory in tree.directories where !blocked.contains(where: { Self.isWithin(directory, $0) }) {
                do {
                    _ = try target.descend(Self.components(directory), create: true)
                } catch {
                    complain("mirror: skipping \(directory)/ and everything in it: \(error)")
                    blocked.append(directory)
                }
            }
            let wanted = tree.files.filter { item in !blocked.contains(where: { Self.isWithin(item.relative, $0) }) }
            let changed = wanted.filter { item in
                let names = Self.components(item.relative)
                guard let directory = try? target.descend(names.dropLast(), create: false),
                    let status = directory.status(of: names[names.count - 1]), status.kind == .file
                else {
                    // Missing, or not a regular file (a link there is replaced by the download, not followed).
                    return true
                }
                return status.size != item.size || (item.modified ?? 0) > status.modified
            }
            try await self.transfer(changed, remote: remote, password: password) { client, item, progress in
                let names = Self.components(item.relative)
                let name = names[names.count - 1]
                let directory = try target.descend(names.dropLast(), create: false)
                let result = try await client.download(
                    root + "/" + item.relative,
                    into: directory,
                    as: name,
                    progress: progress
                )
                if let modified = item.modified {
                    // The local copy takes the server's time, so an unchanged file is not fetched again.
                    try? directory.setModificationTime(of: name, to: modified)
                }
                return result
            }
            if !tree.refused.isEmpty {
                // 69, like a failed verification: what the server sent could not be accepted, so the copy does not
                // match the server's tree. Not 70: the local disk is fine; not 68: the server refused nothing.
                throw Failure(
                    "mirror: \(tree.refused.count) listed name(s) refused (see above); the copy is incomplete",
                    code: 69
                )
            }
            if !blocked.isEmpty {
                // 70: a local obstacle (a link or a file where a folder belongs) stopped part of the copy.
                throw Failure(
                    "mirror: \(blocked.count) folder(s) could not be written safely (see above); the copy is "
                        + "incomplete",
                    code: 70
                )
            }
        }

        func upload(_ local: String, to remote: RemoteURL, password: String?) async throws {
            guard isLocalDirectory(local) else { throw Failure("\(local) is not a directory", code: 70) }
            let root =
                remote.serverPath.hasSuffix("/") && remote.serverPath.count > 1
                ? String(remote.serverPath.dropLast()) : remote.serverPath
            var files: [Item] = []
            var directories: [String] = []
            let enumerator = FileManager.default.enumerator(atPath: local)
            while let relative = enumerator?.nextObject() as? String {
                guard let attributes = enumerator?.fileAttributes else { continue }
                if attributes[.type] as? FileAttributeType == .typeDirectory {
                    directories.append(relative)
                } else if attributes[.type] as? FileAttributeType == .typeRegular {
                    let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
                    let modified = (attributes[.modificationDate] as? Date).map { Int64($0.timeIntervalSince1970) }
                    files.append(Item(relative: relative, size: size, modified: modified))
                }
            }
            let changed = try await withSession(remote, self.options, passwordFromStdin: password) { client in
                // Create what is missing (a directory that exists already is fine), then compare.
                for directory in [""] + directories.sorted() {
                    _ = try? await client.mkdir(directory.isEmpty ? root : root + "/" + directory)
                }
                let existing = try await Self.remoteTree(client, root: root).files
                let byPath = Dictionary(existing.map { ($0.relative, $0) }, uniquingKeysWith: { first, _ in first })
                return files.filter { item in
                    guard let there = byPath[item.relative] else { return true }
                    return there.size != item.size || (item.modified ?? 0) > (there.modified ?? 0)
                }
            }
            try await self.transfer(changed, remote: remote, password: password) { client, item, progress in
                try await client.upload(local + "/" + item.relative, to: root + "/" + item.relative, progress: progress)
            }
        }

        /// Runs the transfers on `jobs` sessions at once, with an overall progress display.
        func transfer(
            _ items: [Item],
            remote: RemoteURL,
            password: String?,
            _ one:
                @escaping @Sendable (FTPClient, Item, @escaping @Sendable (TransferProgress) -> Void) async throws
                -> TransferResult
        ) async throws {
            let total = items.reduce(Int64(0)) { $0 + $1.size }
            let display = MirrorProgress(totalFiles: items.count, totalBytes: total, mode: self.options.progressMode)
            let queue = WorkQueue(items)
            let options = self.options
            let workers = min(self.jobs, max(items.count, 1))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<workers {
                    group.addTask {
                        guard let first = await queue.next() else { return }
                        try await withSession(remote, options, passwordFromStdin: password) { client in
                            var item: Item? = first
                            while let current = item {
                                display.start(current.relative, total: current.size)
                                do {
                                    let result = try await one(client, current) { progress in
                                        display.update(current.relative, done: progress.bytes)
                                    }
                                    display.finish(current.relative, verification: result.verification.description)
                                } catch {
                                    display.fail(current.relative, message: "\(error)")
                                    throw error
                                }
                                item = await queue.next()
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            display.end()
            options.note("mirror: \(items.count) file(s), \(ByteSize.format(total)) transferred")
        }
    }
}
