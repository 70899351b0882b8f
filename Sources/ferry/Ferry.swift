import ArgumentParser

/// `ferry`: an FTP/FTPS client with progress bars and verified transfers.
@main
struct Ferry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry",
        abstract: "An FTP/FTPS client: verified transfers, resume, progress bars, TLS pinning.",
        discussion: """
            URLs are ftp://[user[:password]@]host[:port]/path (explicit FTPS: AUTH TLS is required unless --plain) \
            and ftps://… (implicit FTPS, port 990 by default). Without a subcommand, `ferry URL` opens a shell.

            Exit codes: 0 success, 64 usage, 65 connection, 66 TLS, 67 authentication, 68 remote error, \
            69 verification failure (or names from the server refused by mirror), 70 local I/O error, 130 cancelled.
            """,
        version: "0.1.0",
        subcommands: [
            Shell.self, List.self, Get.self, Put.self, MakeDirectory.self, Remove.self, RemoveDirectory.self,
            Move.self, Mirror.self, Quota.self,
        ],
        defaultSubcommand: Shell.self
    )
}
