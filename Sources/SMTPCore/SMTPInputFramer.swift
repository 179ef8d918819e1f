/// Cuts the bytes an SMTP client sends into command lines and message bodies.
///
/// Strict framing, the defence against SMTP smuggling: a command line ends only at CR LF, and a
/// message ends only at CR LF `.` CR LF. A bare CR or LF never ends anything. In a command line it
/// makes the line invalid; in a message it makes the whole message rejected (as Postfix's
/// `smtpd_forbid_bare_newline` does), once its real end has been read so the session stays in step.
/// Memory is bounded: a command line keeps at most `maxCommandLine` octets, and a message keeps at
/// most `maxMessageSize` octets while the rest is only scanned for its end.
///
/// Use: `feed` bytes, then take events with `next()` one at a time, acting on each before taking the
/// next, so that a reply of 354 can switch to message mode (`beginMessage`) before more input is read.
public struct SMTPInputFramer: Sendable {
    public enum Event: Sendable, Equatable {
        /// A complete command line, without its CR LF.
        case command(String)
        /// A command line longer than the limit (what was over it was thrown away).
        case commandTooLong
        /// A command line holding a bare CR or LF, or bytes that are not UTF-8.
        case commandMalformed
        /// A complete message: its bytes (dot-unstuffed, lines ending in CR LF), or why it is refused.
        case message(Result<[UInt8], MessageProblem>)
    }

    public enum MessageProblem: Error, Sendable, Equatable {
        case bareLineEnding
        case lineTooLong
        case tooBig
    }

    /// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets with its CR LF.
    public static let maxCommandLine = 512
    /// RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets with its CR LF.
    public static let maxTextLine = 1000

    private var buffer: [UInt8] = []
    private var position = 0

    private enum Mode: Sendable {
        case command
        case message(MessageScan)
    }
    private var mode: Mode = .command

    /// State of a message being read, carried across `feed` calls.
    private struct MessageScan: Sendable {
        var body: [UInt8] = []
        var maxSize: Int
        var atLineStart = true
        var lineStartedWithDot = false
        var lineLength = 0
        var pendingCR = false
        var problem: MessageProblem?
    }

    public init() {}

    /// Bytes waiting to be framed (a bound on what a client can make the server hold).
    public var bufferedByteCount: Int { buffer.count - position }

    public mutating func feed<Bytes: Collection<UInt8>>(_ bytes: Bytes) {
        if position > 4096, position * 2 > buffer.count {
            buffer.removeFirst(position)
            position = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Forgets input not yet framed: after STARTTLS, bytes the client pipelined behind the command were
    /// sent in clear text and must never be executed inside the TLS session.
    public mutating func discardBufferedInput() {
        buffer.removeAll()
        position = 0
    }

    /// Switches to reading a message (after the server answered DATA with 354).
    public mutating func beginMessage(maxSize: Int) {
        mode = .message(MessageScan(maxSize: maxSize))
    }

    public mutating func next() -> Event? {
        switch mode {
        case .command: return nextCommand()
        case .message(var scan):
            mode = .command  // the enum lets go of the body, so that it grows in place
            let event = scanMessage(&scan)
            if event == nil { mode = .message(scan) }
            return event
        }
    }

    private mutating func nextCommand() -> Event? {
        var index = position
        while index + 1 < buffer.count {
            if buffer[index] == 13 && buffer[index + 1] == 10 {
                let line = buffer[position..<index]
                position = index + 2
                if line.count + 2 > Self.maxCommandLine { return .commandTooLong }
                if line.contains(13) || line.contains(10) { return .commandMalformed }
                guard let text = String(validating: line, as: UTF8.self) else { return .commandMalformed }
                return .command(text)
            }
            index += 1
        }
        // No CR LF yet. Over the limit: keep only what is needed to find the end of the line.
        if buffer.count - position > Self.maxCommandLine {
            // Drop all but the last byte (it may be the CR of the CR LF still to come) and remember
            // that this line is too long by keeping a marker that makes it so.
            let keep = buffer[buffer.count - 1]
            buffer = Array(repeating: 0x20, count: Self.maxCommandLine) + [keep]
            position = 0
        }
        return nil
    }

    private mutating func scanMessage(_ scan: inout MessageScan) -> Event? {
        while position < buffer.count {
            let byte = buffer[position]
            if scan.pendingCR {
                scan.pendingCR = false
                if byte == 10 {
                    position += 1
                    if scan.lineStartedWithDot && scan.lineLength == 1 {
                        // CR LF . CR LF: the end of the message. (The CR LF before the dot is the message's.)
                        if let problem = scan.problem { return .message(.failure(problem)) }
                        return .message(.success(scan.body))
                    }
                    append(Self.crlf[...], to: &scan)
                    scan.atLineStart = true
                    scan.lineStartedWithDot = false
                    scan.lineLength = 0
                    continue
                }
                // A CR not followed by LF is bare: it ends nothing. The byte after it is read as usual.
                scan.problem = scan.problem ?? .bareLineEnding
                append(Self.crlf[..<1], to: &scan)
                scan.lineLength += 1
            }
            if byte == 13 {
                position += 1
                scan.pendingCR = true
                continue
            }
            if scan.atLineStart {
                scan.atLineStart = false
                if byte == UInt8(ascii: ".") {
                    // A leading dot is stuffing: it counts in the line's length but is not part of the text.
                    position += 1
                    scan.lineLength += 1
                    if scan.lineLength + 2 > Self.maxTextLine { scan.problem = scan.problem ?? .lineTooLong }
                    scan.lineStartedWithDot = true
                    continue
                }
            }
            // The text up to the next CR, or to the end of what has arrived, taken in one piece.
            let end = buffer.withUnsafeBufferPointer { bytes in
                var index = position
                while index < bytes.count, bytes[index] != 13 { index += 1 }
                return index
            }
            let run = buffer[position..<end]
            if scan.problem == nil {
                // Whichever comes first in the run is the problem reported: a bare LF, or the octet
                // that makes the line too long.
                let roomLeft = Self.maxTextLine - 2 - scan.lineLength
                let bareLF = run.firstIndex(of: 10).map { $0 - position }
                if let bareLF, bareLF <= roomLeft {
                    scan.problem = .bareLineEnding
                } else if run.count > roomLeft {
                    scan.problem = .lineTooLong
                }
            }
            scan.lineLength += run.count
            append(run, to: &scan)
            position = end
        }
        return nil
    }

    private static let crlf: [UInt8] = [13, 10]

    private func append(_ bytes: ArraySlice<UInt8>, to scan: inout MessageScan) {
        guard scan.problem != .tooBig else { return }
        if scan.body.count + bytes.count > scan.maxSize {
            scan.problem = .tooBig
            scan.body = []  // nothing of a refused message needs keeping
            return
        }
        scan.body.append(contentsOf: bytes)
    }
}
