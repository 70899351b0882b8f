import FerryCLI
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A pseudo-terminal pair: the test plays the user on `primary`, the code under test uses `secondary`.
private struct PseudoTerminal {
    let primary: Int32
    let secondary: Int32

    init() throws {
        #if os(Linux)
            // posix_openpt/grantpt/unlockpt are not exported by the Glibc module: use /dev/ptmx and its ioctls.
            let primary = open("/dev/ptmx", O_RDWR | O_NOCTTY)
            guard primary >= 0 else { throw POSIXError(.ENODEV) }
            var unlock: Int32 = 0
            var number: UInt32 = 0
            let setLock: UInt = 0x4004_5431  // TIOCSPTLCK
            let getNumber: UInt = 0x8004_5430  // TIOCGPTN
            guard ioctl(primary, setLock, &unlock) == 0, ioctl(primary, getNumber, &number) == 0 else {
                closeDescriptor(primary)
                throw POSIXError(.ENODEV)
            }
            let secondary = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY)
            guard secondary >= 0 else {
                closeDescriptor(primary)
                throw POSIXError(.ENODEV)
            }
            self.primary = primary
            self.secondary = secondary
        #else
            throw POSIXError(.ENOTSUP)
        #endif
    }

    func close() {
        closeDescriptor(self.primary)
        closeDescriptor(self.secondary)
    }

    var echoIsOn: Bool {
        var state = termios()
        _ = tcgetattr(self.secondary, &state)
        return state.c_lflag & tcflag_t(ECHO) != 0
    }
}

private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}

private func writeAll(_ fd: Int32, _ text: String) {
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
}

/// Reads what is available on `fd` within a short time.
private func readAvailable(_ fd: Int32) -> String {
    var result: [UInt8] = []
    var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    var buffer = [UInt8](repeating: 0, count: 1024)
    while poll(&descriptor, 1, 100) > 0 {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count <= 0 { break }
        result += buffer[0..<count]
    }
    return String(decoding: result, as: UTF8.self)
}

/// Whether pseudo-terminals can be opened here (Linux with /dev/ptmx).
private let pseudoTerminalsAvailable: Bool = {
    guard let terminal = try? PseudoTerminal() else { return false }
    terminal.close()
    return true
}()

@Suite("Terminal", .serialized)
struct TerminalTests {
    @Test("width: the terminal's columns, else $COLUMNS, else 80")
    func widthFallback() {
        #expect(Terminal.width(columns: 123, environment: ["COLUMNS": "50"]) == 123)
        #expect(Terminal.width(columns: nil, environment: ["COLUMNS": "50"]) == 50)
        #expect(Terminal.width(columns: 0, environment: ["COLUMNS": " 132 "]) == 132)
        #expect(Terminal.width(columns: nil, environment: ["COLUMNS": "wide"]) == 80)
        #expect(Terminal.width(columns: nil, environment: ["COLUMNS": "-5"]) == 80)
        #expect(Terminal.width(columns: nil, environment: ["COLUMNS": "0"]) == 80)
        #expect(Terminal.width(columns: nil, environment: [:]) == 80)
    }

    @Test("width of a pipe falls back to $COLUMNS; of a terminal, its size", .enabled(if: pseudoTerminalsAvailable))
    func widthOfDescriptors() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer {
            close(fds[0])
            close(fds[1])
        }
        #expect(Terminal.columns(of: fds[1]) == nil)
        #expect(Terminal.width(fd: fds[1], environment: ["COLUMNS": "77"]) == 77)
        #expect(Terminal.width(fd: fds[1], environment: [:]) == 80)
        #expect(!Terminal.isTTY(fds[1], environment: ["TERM": "xterm"]))

        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        var size = winsize(ws_row: 40, ws_col: 123, ws_xpixel: 0, ws_ypixel: 0)
        #if os(Linux)
            #expect(ioctl(terminal.secondary, UInt(TIOCSWINSZ), &size) == 0)
        #endif
        #expect(Terminal.columns(of: terminal.secondary) == 123)
        #expect(Terminal.width(fd: terminal.secondary, environment: ["COLUMNS": "50"]) == 123)
        #expect(Terminal.isTTY(terminal.secondary, environment: ["TERM": "xterm-256color"]))
        #expect(!Terminal.isTTY(terminal.secondary, environment: ["TERM": "dumb"]))
    }

    @Test("ASCII output unless the locale is UTF-8")
    func asciiLocale() {
        #expect(!Terminal.prefersASCII(environment: ["LANG": "en_US.UTF-8"]))
        #expect(!Terminal.prefersASCII(environment: ["LC_ALL": "C.utf8", "LANG": "C"]))
        #expect(Terminal.prefersASCII(environment: ["LC_ALL": "C", "LANG": "en_US.UTF-8"]))
        #expect(!Terminal.prefersASCII(environment: ["LC_CTYPE": "de_DE.UTF-8", "LANG": "C"]))
        #expect(Terminal.prefersASCII(environment: ["LANG": "POSIX"]))
        #expect(Terminal.prefersASCII(environment: [:]))
    }

    @Test("readSecret from a pipe reads one line, without a prompt")
    func secretFromPipe() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]) }
        writeAll(fds[1], "hunter2\r\nsecond line\nlast")
        close(fds[1])
        let output = StringOutput()
        #expect(Terminal.readSecret(prompt: "Password: ", input: fds[0], output: output) == "hunter2")
        #expect(Terminal.readSecret(prompt: "Password: ", input: fds[0], output: output) == "second line")
        #expect(Terminal.readSecret(prompt: "Password: ", input: fds[0], output: output) == "last")
        #expect(Terminal.readSecret(prompt: "Password: ", input: fds[0], output: output) == nil)
        #expect(output.text.isEmpty)
    }

    @Test(
        "readSecret on a terminal prompts, turns echo off while reading and restores it",
        .enabled(if: pseudoTerminalsAvailable)
    )
    func secretFromTerminal() async throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        #expect(terminal.echoIsOn)
        let output = StringOutput()
        let secondary = terminal.secondary
        let reader = Task.detached { Terminal.readSecret(prompt: "Password: ", input: secondary, output: output) }

        // Type only once echo is off (turning it off flushes pending input).
        var waited = 0
        while terminal.echoIsOn, waited < 500 {
            try await Task.sleep(for: .milliseconds(10))
            waited += 1
        }
        #expect(!terminal.echoIsOn)
        writeAll(terminal.primary, "correct horse\n")
        let secret = await reader.value
        #expect(secret == "correct horse")
        #expect(terminal.echoIsOn)
        #expect(output.text == "Password: \n")
        // The terminal did not echo the secret back.
        #expect(!readAvailable(terminal.primary).contains("correct"))
    }
}
