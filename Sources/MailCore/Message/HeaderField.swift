/// One header field of a message (RFC 5322 §2.2) as it appears on the wire: its name and its raw
/// bytes, continuation lines and the final line end included. Rewrites work on these raw bytes, so a
/// field Postern does not touch goes out exactly as it came in.
public struct HeaderField: Sendable, Equatable {
    public var name: String
    public var raw: ArraySlice<UInt8>

    /// Splits a message into its header fields and where the body starts (after the blank line).
    /// A message without a blank line is all header; its body starts at the end.
    public static func split(_ message: [UInt8]) -> (fields: [HeaderField], bodyStart: Int) { split(message[...]) }

    /// The same on part of a message, without copying it: the fields' `raw` slices share its storage,
    /// and `bodyStart` is an index into it.
    public static func split(_ message: ArraySlice<UInt8>) -> (fields: [HeaderField], bodyStart: Int) {
        var fields: [HeaderField] = []
        var index = message.startIndex
        let end = message.endIndex
        while index < end {
            if message[index] == 13, index + 1 < end, message[index + 1] == 10 { return (fields, index + 2) }
            if message[index] == 10 { return (fields, index + 1) }
            let start = index
            // A field runs to a line end not followed by a space or tab.
            while index < end {
                if message[index] == 10 {
                    index += 1
                    if index < end, message[index] == 32 || message[index] == 9 { continue }
                    break
                }
                index += 1
            }
            let raw = message[start..<index]
            let colon = raw.firstIndex(of: UInt8(ascii: ":")) ?? raw.endIndex
            let name = String(decoding: message[start..<min(colon, start + 200)], as: UTF8.self).trimmingWhitespace()
            fields.append(HeaderField(name: name, raw: raw))
        }
        return (fields, end)
    }

    /// Whether this is the field `name` (field names compare without regard to case).
    public func isNamed(_ other: String) -> Bool { name.lowercased() == other.lowercased() }

    /// The value unfolded: line ends removed, as text (UTF-8; other bytes become U+FFFD).
    public var value: String {
        let colon = raw.firstIndex(of: UInt8(ascii: ":")).map { raw.index(after: $0) } ?? raw.endIndex
        let bytes = raw[colon...].filter { $0 != 13 && $0 != 10 }
        return String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
    }
}
