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

    public func html(asciiOnly: Bool) -> String {
        func escaped(_ text: String) -> String {
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
        var text = "This message was sent to <b>\(escaped(alias))</b>\r\n"
        if let sender { text += "from <b>\(escaped(sender))</b>, " }
        text += "and forwarded by Postern.\r\n"
        if let deactivateLink { text += "<a href=\"\(escaped(deactivateLink))\">Deactivate this alias</a>\r\n" }
        return "<div style=\"padding:8px;border:1px solid #ccc;color:#555\">\r\n\(text)</div>"
    }

    /// The message with the banner in its text and HTML bodies.
    public func insert(into message: [UInt8]) -> [UInt8] {
        let root = MIMEEntity(message: message)
        var targets: [MIMEEntity] = []
        var plainFound = false, htmlFound = false
        func visit(_ entity: MIMEEntity) {
            let type = entity.contentType
            if type.type == "multipart" {
                if type.subtype == "signed" || type.subtype == "encrypted" { return }
                entity.parts.forEach(visit)
                return
            }
            guard type.type == "text", type.subtype == "plain" || type.subtype == "html" else { return }
            if let disposition = entity.field("Content-Disposition")?.value.lowercased(), disposition.hasPrefix("attachment") { return }
            if type.subtype == "plain", !plainFound { plainFound = true; targets.append(entity) }
            if type.subtype == "html", !htmlFound { htmlFound = true; targets.append(entity) }
        }
        visit(root)
        var out = message
        // From the last part to the first, so the ranges of the others stay right.
        for entity in targets.sorted(by: { $0.bodyRange.lowerBound > $1.bodyRange.lowerBound }) {
            let encoding = TransferEncoding(entity.field("Content-Transfer-Encoding")?.value)
            let charset = entity.contentType.parameters["charset"]?.lowercased() ?? "us-ascii"
            let utf8 = charset == "utf-8" || charset == "utf8"
            // Non-ASCII in the banner only where the part can carry it (UTF-8 text, not 7bit-only).
            let transferSeven = entity.field("Content-Transfer-Encoding")?.value.lowercased().trimmingWhitespace() ?? "7bit"
            let asciiOnly = !utf8 || (encoding == .identity && transferSeven == "7bit")
            guard let decoded = encoding.strictDecode(message[entity.bodyRange]) else { continue }
            let changed = entity.contentType.subtype == "html"
                ? insertHTML(Array(html(asciiOnly: asciiOnly).utf8), into: decoded)
                : insertPlain(Array(plainText(asciiOnly: asciiOnly).utf8), into: decoded)
            out.replaceSubrange(entity.bodyRange, with: encoding.encode(changed))
        }
        return out
    }

    func insertPlain(_ banner: [UInt8], into body: [UInt8]) -> [UInt8] {
        switch location {
        case .top: return banner + [13, 10, 13, 10] + body
        case .bottom:
            let ending: [UInt8] = body.isEmpty || body.last == 10 ? [] : [13, 10]
            return body + ending + [13, 10] + banner + [13, 10]
        }
    }

    func insertHTML(_ banner: [UInt8], into body: [UInt8]) -> [UInt8] {
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
