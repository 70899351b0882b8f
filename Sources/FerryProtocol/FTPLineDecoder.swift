import NIOCore

/// One unit read from the control connection.
public enum FTPControlLine: Hashable, Sendable {
    /// A complete command line, CRLF and Telnet sequences removed.
    case line(String)
    /// A line longer than the limit arrived; its bytes were discarded up to and including its end of line.
    case tooLong
}

/// Splits the control stream into lines with a hard length limit and strips Telnet sequences.
///
/// Unlike NIOExtras' `LineBasedFrameDecoder`, this never buffers more than `maximumLineLength` bytes of one
/// line: an over-long line is skipped until its LF and reported once as `.tooLong`, so a client cannot grow a
/// session's memory by never sending a newline.
///
/// Telnet (RFC 854), which RFC 959 layers the control connection on: `IAC IAC` is a literal 0xFF, `IAC
/// WILL/WONT/DO/DONT x` and `IAC <command>` are removed. Clients send `IAC IP IAC DM` before ABOR
/// (ftplib, curl), so this matters in practice. Lines end at LF; a CR right before it is dropped.
public struct FTPLineDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = FTPControlLine

    public let maximumLineLength: Int
    private var discarding = false
    private var scanned = 0

    public init(maximumLineLength: Int = 4096 + 512) {
        self.maximumLineLength = maximumLineLength
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let line = try self.decodeLine(&buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(line))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        // A partial line at EOF is not a command: the client went away before finishing it.
        while try self.decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }

    /// The decoding step without a channel, for tests and for in-process use.
    public mutating func decodeLine(_ buffer: inout ByteBuffer) throws -> FTPControlLine? {
        let view = buffer.readableBytesView
        if let newline = view.dropFirst(self.scanned).firstIndex(of: 0x0A) {
            let length = newline - view.startIndex
            self.scanned = 0
            if self.discarding {
                buffer.moveReaderIndex(forwardBy: length + 1)
                self.discarding = false
                return .tooLong
            }
            guard length <= self.maximumLineLength else {
                buffer.moveReaderIndex(forwardBy: length + 1)
                return .tooLong
            }
            let bytes = buffer.readBytes(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            return .line(Self.text(fromTelnet: bytes))
        }
        if self.discarding || view.count > self.maximumLineLength {
            // SECURITY: drop what we have of an over-long line instead of buffering it.
            buffer.moveReaderIndex(forwardBy: view.count)
            self.discarding = true
            self.scanned = 0
        } else {
            self.scanned = view.count
        }
        return nil
    }

    /// Removes Telnet commands and a trailing CR, then decodes UTF-8 (RFC 2640); invalid bytes become U+FFFD.
    static func text(fromTelnet bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == 0xFF else {
                out.append(byte)
                index += 1
                continue
            }
            let next = index + 1 < bytes.count ? bytes[index + 1] : nil
            switch next {
            case 0xFF?:
                out.append(0xFF)
                index += 2
            case let command? where command >= 0xFB && command <= 0xFE:
                index += 3  // WILL/WONT/DO/DONT + option
            case let command? where command >= 0xF0:
                index += 2  // IP, DM, AO, ...
                // A Synch sent with its IAC as urgent data reaches a socket without SO_OOBINLINE as `IAC IP DM`:
                // the DM arrives without its IAC. It is a Telnet byte, not part of the command (RFC 854).
                if command == 0xF4, index < bytes.count, bytes[index] == 0xF2 { index += 1 }
            default:
                index += 1  // A lone IAC (its DM went out-of-band): drop it.
            }
        }
        if out.last == 0x0D { out.removeLast() }
        return String(decoding: out, as: UTF8.self)
    }
}
