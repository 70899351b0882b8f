import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// Top-level wrappers, so the calls inside `Terminal` do not resolve to its own members.
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}

/// The terminal state to put back if a signal arrives while a secret is being typed (echo is off then).
/// Written before the handlers are installed and only read by them.
nonisolated(unsafe) private var secretTerminalFD: Int32 = -1
nonisolated(unsafe) private var secretTerminalState = termios()

private func restoreTerminalAndRaise(_ number: Int32) {
    if secretTerminalFD >= 0 {
        _ = tcsetattr(secretTerminalFD, TCSAFLUSH, &secretTerminalState)
    }
    // Write the newline the user did not see, then die of the signal as if we had not caught it.
    var newline: UInt8 = 10
    _ = write(STDERR_FILENO, &newline, 1)
    _ = signal(number, SIG_DFL)
    _ = raise(number)
}

/// Terminal queries for the command-line client: is this a terminal, how wide is it, and reading a password.
public enum Terminal {
    public static let standardInput: Int32 = STDIN_FILENO
    public static let standardError: Int32 = STDERR_FILENO

    /// The width used when nothing better is known.
    public static let defaultWidth = 80

    /// Whether `fd` is a terminal that understands escape codes: `isatty`, and `TERM` is not `dumb`.
    public static func isTTY(
        _ fd: Int32,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Bool {
        guard isatty(fd) == 1 else { return false }
        return environment["TERM"] != "dumb"
    }

    /// Whether the locale is not UTF-8 (the first of `LC_ALL`, `LC_CTYPE`, `LANG` that is set does not name
    /// UTF-8, or none is set), so progress output should stay ASCII (`asciiOnly`).
    public static func prefersASCII(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Bool {
        for name in ["LC_ALL", "LC_CTYPE", "LANG"] {
            if let value = environment[name], !value.isEmpty {
                let lowered = value.lowercased()
                return !(lowered.contains("utf-8") || lowered.contains("utf8"))
            }
        }
        return true
    }

    /// The number of columns of the terminal on `fd` (standard error by default), from `ioctl(TIOCGWINSZ)`;
    /// otherwise `$COLUMNS`; otherwise 80.
    public static func width(
        fd: Int32 = STDERR_FILENO,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Int {
        self.width(columns: self.columns(of: fd), environment: environment)
    }

    /// The fallback rule of ``width(fd:environment:)``: `columns` if positive, else a positive `$COLUMNS`, else 80.
    public static func width(columns: Int?, environment: [String: String]) -> Int {
        if let columns, columns > 0 { return columns }
        if let text = environment["COLUMNS"]?.trimmingCharacters(in: .whitespaces), let value = Int(text),
            value > 0, value < 100_000
        {
            return value
        }
        return self.defaultWidth
    }

    /// The columns the kernel reports for the terminal on `fd`, or `nil` (not a terminal, or 0).
    public static func columns(of fd: Int32) -> Int? {
        var size = winsize()
        #if os(Linux)
            let request = UInt(TIOCGWINSZ)
        #else
            let request: UInt = 0x4008_7468  // TIOCGWINSZ on Darwin and the BSDs
        #endif
        guard ioctl(fd, request, &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    /// Reads a password or other secret.
    ///
    /// When `input` is a terminal, `prompt` is written to `output`, echo is turned off while the line is typed
    /// (and turned back on afterwards, also if SIGINT, SIGTERM, SIGHUP or SIGQUIT arrives meanwhile: the
    /// terminal is restored and the process dies of the signal), and a newline is written after it.
    /// When `input` is not a terminal (a pipe, a file), one line is read from it without a prompt, so that
    /// `echo "$PASS" | ferry …` works; /dev/tty is never opened.
    ///
    /// - Returns: the line without its line ending, or `nil` at end of input.
    public static func readSecret(
        prompt: String,
        input: Int32 = STDIN_FILENO,
        output: any TextOutput = StandardErrorOutput()
    ) -> String? {
        var original = termios()
        guard isatty(input) == 1, tcgetattr(input, &original) == 0 else {
            return self.readLine(from: input)
        }

        output.write(prompt)
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        silent.c_lflag |= tcflag_t(ICANON)

        secretTerminalState = original
        secretTerminalFD = input
        let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]
        var previous: [(Int32, sighandler_t?)] = []
        for number in signals {
            previous.append((number, signal(number, { restoreTerminalAndRaise($0) })))
        }
        defer {
            for (number, handler) in previous { _ = signal(number, handler) }
            secretTerminalFD = -1
        }

        guard tcsetattr(input, TCSAFLUSH, &silent) == 0 else {
            return self.readLine(from: input)
        }
        let line = self.readLine(from: input)
        _ = tcsetattr(input, TCSAFLUSH, &original)
        output.write("\n")
        return line
    }

    /// Reads one line from `fd` a byte at a time (never reading past the newline), without `\n` or `\r\n`;
    /// `nil` at end of input before any byte.
    static func readLine(from fd: Int32) -> String? {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let count = systemRead(fd, &byte, 1)
            if count < 0 {
                if errno == EINTR { continue }
                break
            }
            if count == 0 {
                if bytes.isEmpty { return nil }
                break
            }
            if byte == UInt8(ascii: "\n") { break }
            bytes.append(byte)
        }
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}
