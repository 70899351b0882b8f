import ArgumentParser
import FerryCLI
import FerryClient
import FerryProtocol
import Foundation

/// Runs a transfer with a progress display and prints its final line (size, rate, verification).
func withProgress(
    _ name: String,
    _ options: ConnectionOptions,
    _ body: (@escaping @Sendable (TransferProgress) -> Void) async throws -> TransferResult
) async throws -> TransferResult {
    let reporter = ProgressReporter(name: name, total: nil, mode: options.progressMode)
    do {
        let result = try await body { progress in reporter.update(done: progress.bytes, total: progress.total) }
        reporter.finish(done: result.size, verification: result.verification.description)
        return result
    } catch {
        // The caller prints the error; a bar on a terminal only needs to end its line.
        if reporter.mode == .bar { reporter.fail("failed") }
        throw error
    }
}

/// The last path component ("/" for the root).
func baseName(_ path: String) -> String {
    let trimmed = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
    return trimmed.split(separator: "/").last.map(String.init) ?? "/"
}

/// Prints `ferry: TEXT` to standard error, also with `--quiet`: for problems that do not end the command.
func complain(_ text: String) {
    FileHandle.standardError.write(Data("ferry: \(text)\n".utf8))
}

func isLocalDirectory(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
}

extension Ferry {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List a remote directory.")
        @OptionGroup var options: ConnectionOptions
        @Flag(name: .short, help: "Long format: type, size, modification time, name.") var long = false
        @Argument(help: "ftp://user@host[:port]/path") var url: String

        func run() async throws {
            let remote = try RemoteURL(self.url, plain: self.options.plain)
            try await runReportingFailures {
                let entries = try await withSession(remote, self.options) { try await $0.list(remote.serverPath) }
                for entry in entries.sorted(by: { $0.name < $1.name }) {
                    print(self.long ? Self.longLine(entry) : entry.name + (entry.kind == .directory ? "/" : ""))
                }
            }
        }

        static func longLine(_ entry: RemoteEntry) -> String {
            let type: String
            switch entry.kind {
            case .directory: type = "d"
            case .symlink: type = "l"
            case .file: type = "-"
            case .other: type = "?"
            }
            let size = entry.size.map { ByteSize.format($0) } ?? "-"
            let time = entry.modified.map { MLSFormat.timeValue($0) } ?? "-"
            let padded = String(repeating: " ", count: max(0, 10 - size.count)) + size
            return "\(type) \(padded)  \(time)  \(entry.name)"
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Download a file (verified; -c resumes).")
        @OptionGroup var options: ConnectionOptions
        @Option(name: .short, help: "Local file or directory (default: the remote name, here).") var output: String?
        @Flag(name: .short, help: "Continue an interrupted download.") var `continue` = false
        @Argument(help: "ftp://user@host[:port]/path/file") var url: String

        func run() async throws {
            let remote = try RemoteURL(self.url, plain: self.options.plain)
            let name = baseName(remote.serverPath)
            var local = self.output ?? name
            let namedAfterURL = self.output == nil || isLocalDirectory(local)
            if isLocalDirectory(local) { local += "/" + name }
            let target = local
            try await runReportingFailures {
                // The local name then comes from the URL (which may have come from anywhere): one safe name only.
                if namedAfterURL, let problem = RemoteName.problem(with: name) {
                    throw Failure(
                        "cannot name a local file \(RemoteName.escaped(name)) (\(problem)); use -o FILE",
                        code: 64
                    )
                }
                _ = try await withSession(remote, self.options) { client in
                    try await withProgress(name, self.options) { progress in
                        try await client.download(
                            remote.serverPath,
                            to: target,
                            resume: self.continue,
                            progress: progress
                        )
                    }
                }
            }
        }
    }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Upload files (verified before commit where the server offers it; -c resumes)."
        )
        @OptionGroup var options: ConnectionOptions
        @Flag(name: .short, help: "Continue an interrupted upload.") var `continue` = false
        @Argument(help: "Local files, then the target ftp:// URL (a directory if it ends in / or with several files).")
        var arguments: [String]

        func validate() throws {
            guard self.arguments.count >= 2 else { throw ValidationError("give at least one file and a target URL") }
        }

        func run() async throws {
            let remote = try RemoteURL(self.arguments.last!, plain: self.options.plain)
            let files = Array(self.arguments.dropLast())
            for file in files where !FileManager.default.isReadableFile(atPath: file) || isLocalDirectory(file) {
                throw Failure("\(file): not a readable file", code: 70)
            }
            let intoDirectory = files.count > 1 || remote.serverPath.hasSuffix("/")
            try await runReportingFailures {
                try await withSession(remote, self.options) { client in
                    for file in files {
                        let name = baseName(file)
                        let target =
                            intoDirectory
                            ? remote.serverPath + (remote.serverPath.hasSuffix("/") ? "" : "/") + name
                            : remote.serverPath
                        _ = try await withProgress(name, self.options) { progress in
                            try await client.upload(file, to: target, resume: self.continue, progress: progress)
                        }
                    }
                }
            }
        }
    }

    struct MakeDirectory: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "mkdir", abstract: "Create a remote directory.")
        @OptionGroup var options: ConnectionOptions
        @Argument var url: String

        func run() async throws {
            let remote = try RemoteURL(self.url, plain: self.options.plain)
            try await runReportingFailures {
                try await withSession(remote, self.options) { try await $0.mkdir(remote.serverPath) }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a remote file.")
        @OptionGroup var options: ConnectionOptions
        @Argument var url: String

        func run() async throws {
            let remote = try RemoteURL(self.url, plain: self.options.plain)
            try await runReportingFailures {
                try await withSession(remote, self.options) { try await $0.delete(remote.serverPath) }
            }
        }
    }

    struct RemoveDirectory: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rmdir",
            abstract: "Remove an empty remote directory."
        )
        @OptionGroup var options: ConnectionOptions
        @Argument var url: String

        func run() async throws {
            let remote = try RemoteURL(self.url, plain: self.options.plain)
            try await runReportingFailures {
                try await withSession(remote, self.options) { try await $0.rmdir(remote.serverPath) }
            }
        }
    }

    struct Move: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "mv",
            abstract: "Rename or move a remote file or directory."
        )
        @OptionGroup var options: ConnectionOptions
        @Argument(help: "ftp://user@host/old/path") var url: String
        @Argument(help: "The new path on the same server.") var destination: String

        func run() async throws {
            let remote = try RemoteURL(self.url, plain: self.options.plain)
            try await runReportingFailures {
                try await withSession(remote, self.options) {
                    try await $0.rename(remote.serverPath, to: self.destination)
                }
            }
        }
    }

    struct Quota: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show your disk usage and quota (SITE QUOTA).")
        @OptionGroup var options: ConnectionOptions
        @Argument var url: String

        func run() async throws {
            let remote = try RemoteURL(self.url, plain: self.options.plain)
            try await runReportingFailures {
                let lines = try await withSession(remote, self.options) { try await $0.quota() }
                for line in lines.dropFirst().dropLast() { print(line.trimmingCharacters(in: .whitespaces)) }
            }
        }
    }
}
