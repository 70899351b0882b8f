import Foundation
import Testing

/// What an external client process did.
struct ProcessResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
    var timedOut: Bool
}

/// Runs a program with a hard time limit; the limit kills it, so a hung client never hangs the suite.
func runProcess(
    _ executable: String,
    _ arguments: [String],
    stdin: Data? = nil,
    timeout: Duration = .seconds(120)
) async throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try? input.fileHandleForWriting.close()

    // Drain the pipes while the process runs so a chatty client cannot block on a full pipe. The blocking reads
    // run on threads of their own: blocking Swift's cooperative pool or Dispatch's global queues (as wide as the
    // machine has cores, 2 here, and shared with Swift concurrency on Linux) would starve the server.
    async let outData = readToEnd(out.fileHandleForReading)
    async let errData = readToEnd(err.fileHandleForReading)
    let deadline = ContinuousClock.now + timeout
    var timedOut = false
    while process.isRunning {
        if ContinuousClock.now > deadline {
            timedOut = true
            process.terminate()
            break
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    process.waitUntilExit()
    return ProcessResult(
        status: process.terminationStatus,
        stdout: String(decoding: await outData, as: UTF8.self),
        stderr: String(decoding: await errData, as: UTF8.self),
        timedOut: timedOut
    )
}

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
    sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    var arguments = [
        clientsDirectory + "/ftplib_scenarios.py", scenario,
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

/// Runs curl with a time limit.
func curl(_ arguments: [String], stdin: Data? = nil, timeout: Duration = .seconds(120)) async throws -> ProcessResult {
    try await runProcess(
        "curl",
        ["--silent", "--show-error", "--max-time", "100"] + arguments,
        stdin: stdin,
        timeout: timeout
    )
}

private func readToEnd(_ handle: FileHandle) async -> Data {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: handle.readDataToEndOfFile()) }
        thread.start()
    }
}
