import Foundation

/// What an external client process did.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var timedOut: Bool
}

/// Runs a program with a hard time limit; the limit kills it, so a hung client never hangs the suite.
public func runProcess(
    _ executable: String,
    _ arguments: [String],
    stdin: Data? = nil,
    environment: [String: String] = [:],
    timeout: Duration = .seconds(120)
) async throws -> ProcessResult {
    let process = Process()
    // The child gets only stdin/stdout/stderr. Servers run in this process: a socket of theirs inherited by a
    // child would stay open after the server closes it, so its peer would wait for an end of data that never
    // comes (Foundation's Process does not close inherited descriptors).
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments =
        [
            "python3", "-c",
            "import os, sys; os.closerange(3, 1 << 16); os.execvp(sys.argv[1], sys.argv[1:])",
        ] + [executable] + arguments
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    }
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    // Fed from a thread of its own: a large input must not block us while the child waits for us to read its
    // output, and a child that exits early (closing its end) must not crash the suite.
    let writer = input.fileHandleForWriting
    let feeder = Thread {
        if let stdin { try? writer.write(contentsOf: stdin) }
        try? writer.close()
    }
    feeder.start()

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

/// Runs curl with a time limit.
public func curl(
    _ arguments: [String],
    stdin: Data? = nil,
    timeout: Duration = .seconds(120)
) async throws -> ProcessResult {
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
