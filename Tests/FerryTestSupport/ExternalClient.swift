import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What an external client process did.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var timedOut: Bool
}

/// Runs a program with a hard time limit; the limit kills it, so a hung client never hangs the suite.
///
/// Spawned and reaped here (posix_spawn, waitpid with WNOHANG), not with Foundation's `Process`: on Linux, `Process`
/// learns that a child ended from a socket the child inherits, and once that socket closes (the wrapper below closes
/// every inherited descriptor at once) it blocks in `waitpid` for that child. One long client then held up the exit of
/// every other child in the test run, and tests with many short clients (openssl s_client) ran out of time in a full
/// run.
public func runProcess(
    _ executable: String,
    _ arguments: [String],
    stdin: Data? = nil,
    environment: [String: String] = [:],
    timeout: Duration = .seconds(120)
) async throws -> ProcessResult {
    // The child gets only stdin/stdout/stderr. Servers run in this process: a socket of theirs inherited by a
    // child would stay open after the server closes it, so its peer would wait for an end of data that never
    // comes.
    let argv =
        [
            "/usr/bin/env", "python3", "-c",
            "import os, sys; os.closerange(3, 1 << 16); os.execvp(sys.argv[1], sys.argv[1:])",
        ] + [executable] + arguments
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    // Close-on-exec for all six ends (the child gets its three as 0, 1, 2 by dup2, which clears the flag): another
    // test that starts a process at this moment (Foundation's Process passes every descriptor on) must not keep our
    // child's stdin open, or the child never sees its end of input and hangs.
    for handle in [input, out, err].flatMap({ [$0.fileHandleForReading, $0.fileHandleForWriting] }) {
        _ = fcntl(handle.fileDescriptor, F_SETFD, FD_CLOEXEC)
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, input.fileHandleForReading.fileDescriptor, 0)
    posix_spawn_file_actions_adddup2(&actions, out.fileHandleForWriting.fileDescriptor, 1)
    posix_spawn_file_actions_adddup2(&actions, err.fileHandleForWriting.fileDescriptor, 2)
    var variables = ProcessInfo.processInfo.environment
    variables.merge(environment) { _, new in new }
    let envp = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
    let cargv = argv.map { strdup($0) } + [nil]
    defer {
        for pointer in envp { free(pointer) }
        for pointer in cargv { free(pointer) }
    }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, "/usr/bin/env", &actions, nil, cargv, envp)
    // The child has its copies; ours of the child's ends go, so EOF comes when the child is done.
    try? input.fileHandleForReading.close()
    try? out.fileHandleForWriting.close()
    try? err.fileHandleForWriting.close()
    guard spawned == 0 else {
        throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EINVAL)
    }
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
    var status: Int32 = 0
    while true {
        let reaped = waitpid(pid, &status, WNOHANG)
        if reaped == pid || (reaped < 0 && errno != EINTR) { break }
        if !timedOut && (ContinuousClock.now > deadline || Task.isCancelled) {
            timedOut = true
            kill(pid, SIGKILL)
        }
        try? await Task.sleep(for: .milliseconds(20))
    }
    // Like Process.terminationStatus: the exit code, or the signal that ended it.
    let exited = status & 0x7F == 0
    let code = exited ? (status >> 8) & 0xFF : status & 0x7F
    return ProcessResult(
        status: code,
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
