import ArgumentParser
import FerryCLI
import FerryClient
import FerryProtocol
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

extension Ferry {
    /// `ferry ftp://user@host`: an interactive session.
    struct Shell: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "shell",
            abstract: "Open an interactive session (the default: `ferry URL`)."
        )
        @OptionGroup var options: ConnectionOptions
        @Argument(help: "ftp://user@host[:port][/dir]") var url: String

        static let help = """
            ls [path]            list a directory          cd path         change directory
            pwd                  print the directory       mkdir / rmdir   create / remove a directory
            get remote [local]   download (verified)       put local [remote]   upload (verified)
            mget pattern...      download matching files   mput pattern...      upload matching files
            rm file              delete                    mv from to      rename
            lcd / lpwd / lls     local directory           quota           disk usage and limits
            help                 this list                 bye / quit / exit    leave
            """

        func run() async throws {
            let remote = try RemoteURL(self.url, plain: self.options.plain)
            try await runReportingFailures {
                try await withSession(remote, self.options) { client in
                    if remote.serverPath != "/" { try await client.cd(remote.serverPath) }
                    if let banner = client.greeting?.lines.joined(separator: " ") { self.options.note(banner) }
                    let interactive = Terminal.isTTY(Terminal.standardInput)
                    while true {
                        if interactive { FileHandle.standardOutput.write(Data("ferry> ".utf8)) }
                        guard let line = readLine() else { break }
                        let words = Self.split(line)
                        guard let verb = words.first?.lowercased() else { continue }
                        if ["bye", "quit", "exit"].contains(verb) { break }
                        do {
                            try await self.execute(verb, Array(words.dropFirst()), client)
                        } catch let error as FTPClientError
                            where error.kind == .remote || error.kind == .verification
                            || error.kind == .localIO || error.kind == .cancelled
                        {
                            FileHandle.standardError.write(Data("\(verb): \(error)\n".utf8))
                        } catch let failure as Failure {
                            FileHandle.standardError.write(Data("\(verb): \(failure.message)\n".utf8))
                        }
                    }
                }
            }
        }

        /// Words, with "double quotes" around names that hold spaces.
        static func split(_ line: String) -> [String] {
            var words: [String] = []
            var current = ""
            var quoted = false
            var started = false
            for character in line {
                if character == "\"" {
                    quoted.toggle()
                    started = true
                } else if character == " " && !quoted {
                    if started { words.append(current) }
                    current = ""
                    started = false
                } else {
                    current.append(character)
                    started = true
                }
            }
            if started { words.append(current) }
            return words
        }

        func execute(_ verb: String, _ arguments: [String], _ client: FTPClient) async throws {
            func argument(_ index: Int, _ name: String) throws -> String {
                guard index < arguments.count else { throw Failure("\(verb) needs \(name)", code: 64) }
                return arguments[index]
            }
            switch verb {
            case "help", "?":
                print(Self.help)
            case "ls", "dir":
                for entry in try await client.list(arguments.first).sorted(by: { $0.name < $1.name }) {
                    print(List.longLine(entry))
                }
            case "cd":
                try await client.cd(try argument(0, "a directory"))
            case "pwd":
                print(try await client.pwd())
            case "mkdir":
                try await client.mkdir(try argument(0, "a name"))
            case "rmdir":
                try await client.rmdir(try argument(0, "a name"))
            case "rm", "delete":
                try await client.delete(try argument(0, "a file"))
            case "mv", "rename":
                try await client.rename(try argument(0, "a name"), to: try argument(1, "a new name"))
            case "quota":
                for line in try await client.quota().dropFirst().dropLast() {
                    print(line.trimmingCharacters(in: .whitespaces))
                }
            case "get":
                let name = try argument(0, "a remote file")
                try await self.get(name, to: arguments.count > 1 ? arguments[1] : baseName(name), client)
            case "put":
                let file = try argument(0, "a local file")
                try await self.put(file, to: arguments.count > 1 ? arguments[1] : baseName(file), client)
            case "mget":
                let names = try await client.names()
                for pattern in arguments {
                    for name in names where fnmatch(pattern, name, 0) == 0 {
                        // SECURITY: these names come from the server and become local paths: each must be one
                        // safe name (`*` matches `..`, `a/b` and `../../x` too).
                        if let problem = RemoteName.problem(with: name) {
                            FileHandle.standardError.write(
                                Data("mget: refusing the name \(RemoteName.escaped(name)): \(problem)\n".utf8)
                            )
                            continue
                        }
                        try await self.get(name, to: name, client)
                    }
                }
            case "mput":
                for pattern in arguments {
                    for file in Self.localGlob(pattern) where !isLocalDirectory(file) {
                        try await self.put(file, to: baseName(file), client)
                    }
                }
            case "lcd":
                let path = arguments.first ?? NSHomeDirectory()
                guard FileManager.default.changeCurrentDirectoryPath(path) else {
                    throw Failure("lcd: cannot enter \(path)", code: 70)
                }
            case "lpwd":
                print(FileManager.default.currentDirectoryPath)
            case "lls":
                let path = arguments.first ?? "."
                for name in (try? FileManager.default.contentsOfDirectory(atPath: path))?.sorted() ?? [] { print(name) }
            default:
                throw Failure("unknown command '\(verb)' (try help)", code: 64)
            }
        }

        func get(_ name: String, to local: String, _ client: FTPClient) async throws {
            _ = try await withProgress(baseName(name), self.options) { progress in
                try await client.download(name, to: local, progress: progress)
            }
        }

        func put(_ file: String, to remote: String, _ client: FTPClient) async throws {
            _ = try await withProgress(baseName(file), self.options) { progress in
                try await client.upload(file, to: remote, progress: progress)
            }
        }

        static func localGlob(_ pattern: String) -> [String] {
            var result = glob_t()
            defer { globfree(&result) }
            guard glob(pattern, 0, nil, &result) == 0 else { return [] }
            return (0..<Int(result.gl_pathc)).compactMap { index in
                result.gl_pathv[index].map { String(cString: $0) }
            }
        }
    }
}
