/// Reads SMTP replies (RFC 5321 §4.2) from the bytes a server sends: `250-first`, …, `250 last`.
///
/// Incremental and bounded: `feed` what arrived, then take complete replies with `next()`. A line longer
/// than 2048 octets, more than 100 lines in one reply, a line that is not `DDD`, `DDD text` or `DDD-text`,
/// or a continuation whose code changes, is a protocol error: the connection is not to be trusted further.
public struct SMTPReplyParser: Sendable {
    public enum Problem: Error, Sendable, Equatable {
        case malformed
        case tooLong
    }

    public static let maxLine = 2048
    public static let maxLines = 100

    private var buffer: [UInt8] = []
    private var position = 0
    private var pendingCode: Int?
    private var pendingLines: [String] = []

    public init() {}

    public var isEmpty: Bool { position == buffer.count && pendingLines.isEmpty }

    public mutating func feed<Bytes: Collection<UInt8>>(_ bytes: Bytes) {
        if position > 0, position * 2 > buffer.count {
            buffer.removeFirst(position)
            position = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete reply, nil when more input is needed.
    public mutating func next() throws(Problem) -> SMTPReply? {
        while true {
            guard let lineEnd = findLineEnd() else {
                if buffer.count - position > Self.maxLine { throw .tooLong }
                return nil
            }
            var line = Array(buffer[position..<lineEnd])
            position = lineEnd + 1
            if line.last == 13 { line.removeLast() }
            guard line.count <= Self.maxLine, line.count >= 3 else { throw line.count < 3 ? .malformed : .tooLong }
            guard line[0...2].allSatisfy({ (48...57).contains($0) }), (2...5).contains(line[0] - 48) else {
                throw .malformed
            }
            let code = Int(line[0] - 48) * 100 + Int(line[1] - 48) * 10 + Int(line[2] - 48)
            let separator: UInt8 = line.count > 3 ? line[3] : 32
            guard separator == 32 || separator == UInt8(ascii: "-") else { throw .malformed }
            if let pendingCode, pendingCode != code { throw .malformed }
            pendingCode = code
            let text = line.count > 4 ? String(decoding: line[4...], as: UTF8.self) : ""
            pendingLines.append(text)
            if pendingLines.count > Self.maxLines { throw .tooLong }
            if separator == UInt8(ascii: "-") { continue }
            let reply = Self.reply(code: code, lines: pendingLines)
            pendingCode = nil
            pendingLines = []
            return reply
        }
    }

    private func findLineEnd() -> Int? {
        var index = position
        while index < buffer.count {
            if buffer[index] == 10 { return index }
            index += 1
        }
        return nil
    }

    /// Splits an RFC 3463 enhanced status code off the lines when the first line carries one whose class
    /// matches the reply code's.
    static func reply(code: Int, lines: [String]) -> SMTPReply {
        guard let first = lines.first, let space = first.firstIndex(of: " ") ?? (first.isEmpty ? nil : first.endIndex)
        else { return SMTPReply(code: code, enhanced: nil, lines: lines) }
        let candidate = first[..<space]
        let parts = candidate.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              parts[0] == "\(code / 100)"
        else { return SMTPReply(code: code, enhanced: nil, lines: lines) }
        let enhanced = String(candidate)
        let stripped = lines.map { line -> String in
            line.hasPrefix(enhanced + " ") ? String(line.dropFirst(enhanced.count + 1)) : (line == enhanced ? "" : line)
        }
        return SMTPReply(code: code, enhanced: enhanced, lines: stripped)
    }
}
