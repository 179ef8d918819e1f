/// The readable text of a message: its inline text/plain and text/html parts, found through the MIME
/// structure. Signed or encrypted subtrees (multipart/signed, multipart/encrypted), attachments and
/// enclosed messages are never among them, so a change here cannot break a signature or alter a file.
public enum InlineText {
    /// The inline text parts of `message`, in order.
    public static func parts(of message: [UInt8]) -> [MIMEEntity] {
        var found: [MIMEEntity] = []
        func visit(_ entity: MIMEEntity) {
            let type = entity.contentType
            if type.type == "multipart" {
                if type.subtype == "signed" || type.subtype == "encrypted" { return }
                entity.parts.forEach(visit)
                return
            }
            guard type.type == "text", type.subtype == "plain" || type.subtype == "html" else { return }
            if let disposition = entity.field("Content-Disposition")?.value.lowercased(), disposition.hasPrefix("attachment") { return }
            found.append(entity)
        }
        visit(MIMEEntity(message: message))
        return found
    }

    /// What a change may know of the part it changes.
    public struct Part: Sendable {
        public var isHTML: Bool
        /// Only ASCII may be added: the part's charset is not UTF-8, or it travels as 7bit.
        public var asciiOnly: Bool
    }

    /// `message` with each of `parts` decoded from its Content-Transfer-Encoding, changed by `change`
    /// (nil: left as it was), and encoded the same way; the part headers and every other byte stay.
    /// Parts whose encoding is broken are left alone.
    public static func rewrite(_ message: [UInt8], parts: [MIMEEntity], _ change: (Part, [UInt8]) -> [UInt8]?) -> [UInt8] {
        var out = message
        // From the last part to the first, so the ranges of the others stay right.
        for entity in parts.sorted(by: { $0.bodyRange.lowerBound > $1.bodyRange.lowerBound }) {
            let encoding = TransferEncoding(entity.field("Content-Transfer-Encoding")?.value)
            let charset = entity.contentType.parameters["charset"]?.lowercased() ?? "us-ascii"
            let utf8 = charset == "utf-8" || charset == "utf8"
            let transfer = entity.field("Content-Transfer-Encoding")?.value.lowercased().trimmingWhitespace() ?? "7bit"
            let part = Part(isHTML: entity.contentType.subtype == "html", asciiOnly: !utf8 || (encoding == .identity && transfer == "7bit"))
            guard let decoded = encoding.strictDecode(message[entity.bodyRange]), let changed = change(part, decoded) else { continue }
            out.replaceSubrange(entity.bodyRange, with: encoding.encode(changed))
        }
        return out
    }
}
