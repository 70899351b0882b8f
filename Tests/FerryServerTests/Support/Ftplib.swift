import FerryTestSupport
import Foundation
import Testing

/// The folder with the Python client scenarios.
let clientsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Clients").path

/// Runs one scenario of `Clients/ftplib_scenarios.py` (Python's ftplib) against `server` and records its
/// output as a test issue if it fails.
func runFtplib(
    _ scenario: String,
    _ server: TestServer,
    user: String = "alice",
    password: String = "alice-secret",
    extra: [String: String] = [:],
    timeout: Duration = .seconds(180),
    script: String = "ftplib_scenarios.py",
    sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    var arguments = [
        clientsDirectory + "/" + script, scenario,
        "--host", server.host, "--port", String(server.port),
        "--user", user, "--password", password,
        "--home", server.home(user), "--data", server.dataDirectory,
    ]
    for (key, value) in extra.sorted(by: { $0.key < $1.key }) { arguments += ["--set", "\(key)=\(value)"] }
    let result = try await runProcess("python3", ["-u"] + arguments, timeout: timeout)
    #expect(
        result.status == 0 && !result.timedOut,
        "ftplib scenario '\(scenario)' failed (status \(result.status), timed out: \(result.timedOut))\n\(result.stdout)\n\(result.stderr)",
        sourceLocation: sourceLocation
    )
}
