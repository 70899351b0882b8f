import ArgumentParser

/// `ferryd`: the Ferry FTP server and its user administration.
@main
struct Ferryd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferryd",
        abstract: "Ferry, a multi-user FTP server with jailed homes.",
        version: "0.1.0",
        subcommands: [Serve.self, User.self],
        defaultSubcommand: Serve.self
    )
}

/// `--data DIR`, shared by every subcommand.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "The data folder: user store (ferry.sqlite) and homes/.")
    var data: String = "ferry-data"

    var databasePath: String { self.data + "/ferry.sqlite" }
}
