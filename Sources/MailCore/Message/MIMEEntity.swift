/// A MIME entity (RFC 2045, RFC 2046) located in a message's bytes: its header fields, where its body
/// lies, and for multipart entities the parts between the boundary lines. Nothing is copied or
/// decoded: rewrites splice the original bytes.
public struct MIMEEntity: Sendable {
    public var fields: [HeaderField]
    /// The whole entity (header and body) in the message.
    public var range: Range<Int>
    /// The body, after the blank line.
    public var bodyRange: Range<Int>
    public var contentType: ContentType
    /// For multipart entities, the parts in order; empty otherwise.
    public var parts: [MIMEEntity]

    /// Deeper nesting than this is left unparsed, and a multipart keeps at most `maxParts` parts (a
    /// message built to exhaust the parser).
    public static let maxDepth = 32
    public static let maxParts = 500

    /// Parses a whole message.
    /// At most this many entities in one message, all levels together.
    public static let maxEntities = 1000

    public init(message: [UInt8]) {
        var budget = Self.maxEntities
        self.init(message, range: 0..<message.count, depth: 0, defaultType: ContentType.textPlain, budget: &budget)
    }

    init(_ message: [UInt8], range: Range<Int>, depth: Int, defaultType: ContentType, budget: inout Int) {
        budget -= 1
        let (fields, bodyStart) = HeaderField.split(message[range])
        self.fields = fields
        self.range = range
        bodyRange = bodyStart..<range.upperBound
        contentType = fields.last { $0.isNamed("Content-Type") }.map { ContentType(parsing: $0.value) } ?? defaultType
        parts = []
        guard contentType.type == "multipart", depth < Self.maxDepth, budget > 0, let boundary = contentType.parameters["boundary"],
              !boundary.isEmpty, boundary.utf8.count <= 200 else { return }
        let childDefault = contentType.subtype == "digest" ? ContentType(type: "message", subtype: "rfc822") : ContentType.textPlain
        for part in Self.partRanges(message, body: bodyRange, boundary: Array(boundary.utf8)) where budget > 0 {
            parts.append(MIMEEntity(message, range: part, depth: depth + 1, defaultType: childDefault, budget: &budget))
        }
    }

    /// The ranges between `--boundary` lines; the line end before a boundary line belongs to it.
    static func partRanges(_ message: [UInt8], body: Range<Int>, boundary: [UInt8]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var partStart: Int?
        var lineStart = body.lowerBound
        while lineStart < body.upperBound {
            var lineEnd = lineStart
            while lineEnd < body.upperBound, message[lineEnd] != 10 { lineEnd += 1 }
            let next = min(lineEnd + 1, body.upperBound)
            if lineEnd - lineStart >= boundary.count + 2, message[lineStart] == 45, message[lineStart + 1] == 45,
               message[(lineStart + 2)..<(lineStart + 2 + boundary.count)].elementsEqual(boundary) {
                let rest = message[(lineStart + 2 + boundary.count)..<lineEnd]
                let closing = rest.starts(with: [45, 45])
                let trailing = closing ? rest.dropFirst(2) : rest
                if trailing.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) {
                    if let start = partStart {
                        var end = lineStart
                        if end > start, message[end - 1] == 10 { end -= 1 }
                        if end > start, message[end - 1] == 13 { end -= 1 }
                        ranges.append(start..<max(start, end))
                    }
                    if closing || ranges.count >= maxParts { return ranges }
                    partStart = next
                }
            }
            lineStart = next
        }
        // No closing delimiter: the last part runs to the end.
        if let start = partStart, start < body.upperBound { ranges.append(start..<body.upperBound) }
        return ranges
    }

    /// Every entity in this tree, depth first, this one included.
    public var allEntities: [MIMEEntity] { [self] + parts.flatMap(\.allEntities) }

    public func field(_ name: String) -> HeaderField? { fields.last { $0.isNamed(name) } }
}

/// A Content-Type value: `type/subtype; name=value; name="quoted value"`, names and type lower-cased.
public struct ContentType: Sendable, Equatable {
    public var type: String
    public var subtype: String
    public var parameters: [String: String]

    public static let textPlain = ContentType(type: "text", subtype: "plain", parameters: ["charset": "us-ascii"])

    public init(type: String, subtype: String, parameters: [String: String] = [:]) {
        self.type = type
        self.subtype = subtype
        self.parameters = parameters
    }

    public init(parsing value: String) {
        var pieces: [String] = []
        var current = ""
        var quoted = false, escaped = false
        for character in value {
            if escaped { current.append(character); escaped = false; continue }
            if quoted {
                if character == "\\" { escaped = true } else if character == "\"" { quoted = false } else { current.append(character) }
                continue
            }
            switch character {
            case "\"": quoted = true
            case ";": pieces.append(current); current = ""
            default: current.append(character)
            }
        }
        pieces.append(current)
        let full = (pieces.first ?? "").trimmingWhitespace().lowercased()
        let halves = full.split(separator: "/", maxSplits: 1).map { String($0).trimmingWhitespace() }
        if halves.count == 2, !halves[0].isEmpty, !halves[1].isEmpty {
            type = halves[0]
            subtype = halves[1]
        } else {
            type = "text"
            subtype = "plain"
        }
        parameters = [:]
        for piece in pieces.dropFirst() {
            guard let equals = piece.firstIndex(of: "=") else { continue }
            let name = String(piece[..<equals]).trimmingWhitespace().lowercased()
            let value = String(piece[piece.index(after: equals)...]).trimmingWhitespace()
            if !name.isEmpty { parameters[name] = value }
        }
    }

    public var mimeType: String { "\(type)/\(subtype)" }
}
