/// The notice a forwarded copy carries (SPEC §5): "sent to ALIAS from SENDER", with a link to
/// deactivate the alias, at the top or bottom of the text and HTML bodies.
///
/// Parts are found through the MIME structure: the first inline text/plain and the first inline
/// text/html anywhere in it (so both halves of a multipart/alternative, however deeply nested).
/// Signed or encrypted subtrees (multipart/signed, multipart/encrypted), attachments, and enclosed
/// messages are never touched. A part is decoded from its Content-Transfer-Encoding, changed, and
/// encoded the same way; its header stays as it was. Every other byte of the message is kept.
public struct Banner: Sendable, Equatable {
    public enum Location: Sendable { case top, bottom }

    public var location: Location
    public var alias: String
    public var sender: String?
    /// Where the alias is deactivated; nil: no link.
    public var deactivateLink: String?

    public init(location: Location, alias: String, sender: String?, deactivateLink: String?) {
        self.location = location
        self.alias = alias
        self.sender = sender
        self.deactivateLink = deactivateLink
    }

    public func plainText(asciiOnly: Bool) -> String {
        // Short lines: the part may go out without a transfer encoding.
        var text = "This message was sent to \(alias)\r\n" + (sender.map { "from \($0), " } ?? "") + "and forwarded by Postern."
        if let deactivateLink { text += "\r\nDeactivate this alias: \(deactivateLink)" }
        return asciiOnly ? String(text.unicodeScalars.map { $0.isASCII ? Character($0) : "?" }) : text
    }

    static func escapedHTML(_ text: String, asciiOnly: Bool) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out += asciiOnly && !scalar.isASCII ? "&#\(scalar.value);" : String(scalar)
            }
        }
        return out
    }

    public func html(asciiOnly: Bool) -> String {
        func escaped(_ text: String) -> String { Self.escapedHTML(text, asciiOnly: asciiOnly) }
        var text = "This message was sent to <b>\(escaped(alias))</b>\r\n"
        if let sender { text += "from <b>\(escaped(sender))</b>, " }
        text += "and forwarded by Postern.\r\n"
        if let deactivateLink { text += "<a href=\"\(escaped(deactivateLink))\">Deactivate this alias</a>\r\n" }
        return "<div style=\"padding:8px;border:1px solid #ccc;color:#555\">\r\n\(text)</div>"
    }

    /// The message with the banner in its first text and first HTML body.
    public func insert(into message: [UInt8]) -> [UInt8] {
        let parts = InlineText.parts(of: message)
        let targets = [parts.first { $0.contentType.subtype == "plain" }, parts.first { $0.contentType.subtype == "html" }]
        // Non-ASCII in the banner only where the part can carry it (UTF-8 text, not 7bit-only).
        return InlineText.rewrite(message, parts: targets.compactMap { $0 }) { part, body in
            part.isHTML ? Self.insertHTML(Array(html(asciiOnly: part.asciiOnly).utf8), into: body, at: location)
                : Self.insertPlain(Array(plainText(asciiOnly: part.asciiOnly).utf8), into: body, at: location)
        }
    }

    /// `message` with a warning at the top of its first text and first HTML body: it failed DMARC
    /// where the author's domain asks for failing mail to be quarantined or rejected.
    public static func warn(_ message: [UInt8], authorDomain: String?) -> [UInt8] {
        let domain = authorDomain.map { " (\($0))" } ?? ""
        return warn(message, saying: "[DMARC FAIL] This message failed DMARC. The domain it claims to come from\(domain) asks for such mail to be refused: it may be forged.")
    }

    /// `message` with `text` as a red line at the top of its first text and first HTML body.
    public static func warn(_ message: [UInt8], saying text: String) -> [UInt8] {
        let parts = InlineText.parts(of: message)
        let targets = [parts.first { $0.contentType.subtype == "plain" }, parts.first { $0.contentType.subtype == "html" }]
        return InlineText.rewrite(message, parts: targets.compactMap { $0 }) { part, body in
            let line = part.asciiOnly ? String(text.unicodeScalars.map { $0.isASCII ? Character($0) : "?" }) : text
            return part.isHTML
                ? insertHTML(Array("<p style=\"color:#b00000\"><b>\(escapedHTML(line, asciiOnly: part.asciiOnly))</b></p>\r\n".utf8),
                             into: body, at: .top)
                : insertPlain(Array(line.utf8), into: body, at: .top)
        }
    }

    static func insertPlain(_ banner: [UInt8], into body: [UInt8], at location: Location) -> [UInt8] {
        switch location {
        case .top: return banner + [13, 10, 13, 10] + body
        case .bottom:
            let ending: [UInt8] = body.isEmpty || body.last == 10 ? [] : [13, 10]
            return body + ending + [13, 10] + banner + [13, 10]
        }
    }

    static func insertHTML(_ banner: [UInt8], into body: [UInt8], at location: Location) -> [UInt8] {
        let lower = body.map { (65...90).contains($0) ? $0 + 32 : $0 }
        switch location {
        case .top:
            if let tag = Self.find(Array("<body".utf8), in: lower), let close = lower[tag...].firstIndex(of: UInt8(ascii: ">")) {
                return Array(body[...close]) + banner + Array(body[(close + 1)...])
            }
            return banner + body
        case .bottom:
            if let tag = Self.findLast(Array("</body".utf8), in: lower) {
                return Array(body[..<tag]) + banner + Array(body[tag...])
            }
            return body + (body.isEmpty || body.last == 10 ? [] : [13, 10]) + banner + [13, 10]
        }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }

    static func findLast(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in stride(from: haystack.count - needle.count, through: 0, by: -1)
        where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }
}
