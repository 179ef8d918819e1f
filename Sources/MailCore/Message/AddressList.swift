/// An address list as header fields carry it (RFC 5322 §3.4: From, To, Cc, Reply-To).
///
/// Parsing is lenient, as mail in the wild demands: each item keeps the text it was written with, and
/// an item that does not hold a usable address is still an item (rewrites then leave it alone).
public struct AddressList: Sendable, Equatable {
    public enum Item: Sendable, Equatable {
        case mailbox(Mailbox)
        /// A group (`undisclosed-recipients:;`) or anything without a usable address, as written.
        case other(String)
    }

    /// `display <address>` or a bare `address`.
    public struct Mailbox: Sendable, Equatable {
        /// The display name as written (quotes, encoded words and all), nil when there is none.
        public var display: String?
        public var address: EmailAddress
        /// The item as written.
        public var raw: String

        /// The display name as a reader sees it: quotes removed, encoded words decoded.
        public var displayText: String? {
            guard let display else { return nil }
            let text = EncodedWord.decodePhrase(display)
            return text.isEmpty ? nil : text
        }
    }

    public var items: [Item]

    public var mailboxes: [Mailbox] {
        items.compactMap { if case .mailbox(let mailbox) = $0 { mailbox } else { nil } }
    }

    public init(items: [Item]) { self.items = items }

    /// Parses an unfolded field value.
    public init(parsing value: String) {
        items = Self.splitItems(Array(value.unicodeScalars)).compactMap { chunk -> Item? in
            let text = String(String.UnicodeScalarView(chunk)).trimmingWhitespace()
            guard !text.isEmpty else { return nil }
            return Self.item(text)
        }
    }

    /// Tells which characters of a field value are structure, not text: those outside quoted strings,
    /// comments and escapes.
    struct Lexer {
        var quoted = false, escaped = false, literal = false
        var comment = 0

        /// Takes the next character; true when it is structure. Address literals (`[IPv6:…]`) are
        /// text too: their colons start no group.
        mutating func structural(_ scalar: Unicode.Scalar) -> Bool {
            if escaped { escaped = false; return false }
            if literal { if scalar == "]" { literal = false }; return false }
            switch scalar {
            case "\\" where quoted || comment > 0: escaped = true
            case "\"" where comment == 0: quoted.toggle()
            case "(" where !quoted: comment += 1
            case ")" where !quoted && comment > 0: comment -= 1
            case "[" where !quoted && comment == 0: literal = true
            default: return !quoted && comment == 0
            }
            return false
        }
    }

    /// Cuts at commas outside quotes, comments, angle brackets and groups.
    static func splitItems(_ scalars: [Unicode.Scalar]) -> [ArraySlice<Unicode.Scalar>] {
        var chunks: [ArraySlice<Unicode.Scalar>] = []
        var start = 0
        var lexer = Lexer()
        var inAngle = false, inGroup = false
        for (index, scalar) in scalars.enumerated() where lexer.structural(scalar) {
            switch scalar {
            case "<": inAngle = true
            case ">": inAngle = false
            case ":" where !inAngle: inGroup = true
            case ";" where !inAngle && inGroup: inGroup = false
            case "," where !inAngle && !inGroup:
                chunks.append(scalars[start..<index])
                start = index + 1
            default: break
            }
        }
        chunks.append(scalars[start...])
        return chunks
    }

    static func item(_ text: String) -> Item {
        let scalars = Array(text.unicodeScalars)
        var lexer = Lexer()
        for (index, scalar) in scalars.enumerated() where lexer.structural(scalar) {
            switch scalar {
            case ":":
                return .other(text)  // a group
            case "<":
                guard let close = scalars[index...].firstIndex(of: ">") else { return .other(text) }
                var inside = String(String.UnicodeScalarView(scalars[(index + 1)..<close])).trimmingWhitespace()
                // An obsolete source route (`<@a,@b:user@host>`) is dropped.
                if inside.hasPrefix("@"), let colon = inside.firstIndex(of: ":") { inside = String(inside[inside.index(after: colon)...]) }
                guard let address = try? EmailAddress(parsing: inside) else { return .other(text) }
                let display = String(String.UnicodeScalarView(scalars[..<index])).trimmingWhitespace()
                return .mailbox(Mailbox(display: display.isEmpty ? nil : display, address: address, raw: text))
            default: break
            }
        }
        // A bare addr-spec, perhaps with a comment holding the name: `bob@example.com (Bob)`.
        var bare = "", name = ""
        var comment = 0, escaped = false, quoted = false
        for scalar in scalars {
            if escaped {
                escaped = false
                if comment > 0 { name.unicodeScalars.append(scalar) } else { bare.unicodeScalars.append(scalar) }
                continue
            }
            if scalar == "\\" && (comment > 0 || quoted) {
                escaped = true
                if quoted { bare.unicodeScalars.append(scalar) }
                continue
            }
            if comment == 0, scalar == "\"" { quoted.toggle() }
            if comment == 0, quoted || scalar == "\"" { bare.unicodeScalars.append(scalar); continue }  // a quoted local part keeps its blanks
            if scalar == "(" { comment += 1; if comment == 1 { continue } }
            if scalar == ")" && comment > 0 { comment -= 1; if comment == 0 { continue } }
            if comment > 0 { name.unicodeScalars.append(scalar) } else if scalar != " " && scalar != "\t" { bare.unicodeScalars.append(scalar) }
        }
        guard let address = try? EmailAddress(parsing: bare) else { return .other(text) }
        let display = name.trimmingWhitespace()
        return .mailbox(Mailbox(display: display.isEmpty ? nil : Self.quoted(display), address: address, raw: text))
    }

    /// `text` as a display name that needs no encoding: a quoted string (only when it is all ASCII,
    /// else an RFC 2047 encoded word).
    public static func quoted(_ text: String) -> String {
        if !text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 32 && $0.value != 127 }) {
            return EncodedWord.encode(text).joined(separator: " ")
        }
        var out = "\""
        for scalar in text.unicodeScalars {
            if scalar == "\"" || scalar == "\\" { out += "\\" }
            out.unicodeScalars.append(scalar)
        }
        return out + "\""
    }
}
