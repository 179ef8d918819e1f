import Foundation

/// What leaves Postern when a user writes through a reverse alias (SPEC §5): a reply to someone who
/// wrote to the alias, or a first message to a new contact. Nothing may tell the recipient who the
/// user really is, so the header is rebuilt from an allowlist rather than cleaned of what is known
/// to be identifying:
///
/// - `From` is the alias, with the display name the user chose for it.
/// - `To` and `Cc` keep their mailboxes, except that reverse aliases become the addresses they stand
///   for and the user's own mailboxes become the alias.
/// - `Subject`, `Date`, `In-Reply-To`, `References` and the MIME fields are kept as they came.
/// - `Message-ID` is new, on the alias domain (the user's mail program wrote the old one with its
///   host name in it).
/// - Everything else goes: `Received` (the user's IP address and provider), `Sender`, `Reply-To`,
///   `Return-Path`, signatures, client names, `X-*` fields.
///
/// In the text and HTML parts the user's own addresses (in the quoted message, a signature) are
/// replaced with the alias.
public enum ReplyMessage {
    /// Fields kept as they came (lower-cased names).
    static let keptFields: Set<String> = [
        "subject", "date", "in-reply-to", "references", "mime-version", "content-type", "content-transfer-encoding",
        "content-disposition", "content-language", "content-id", "content-description", "auto-submitted",
    ]

    /// - Parameters:
    ///   - hiddenAddresses: the user's own mailboxes, which must not appear.
    ///   - messageID: the new Message-ID, `<…@alias domain>`.
    public static func rewrite(_ message: [UInt8], alias: EmailAddress, displayName: String?, hiddenAddresses: [EmailAddress],
                               messageID: String, date: Date = Date()) -> [UInt8] {
        let (fields, bodyStart) = HeaderField.split(message)
        let hidden = Set(hiddenAddresses.map { $0.description.lowercased() })
        let from = ForwardedMessage.mailboxField("From", display: displayName.map(ForwardedMessage.cleaned), address: alias.description)
        var out: [UInt8] = []
        out.reserveCapacity(message.count + 256)
        out += from
        for field in fields {
            let name = field.name.lowercased()
            if name == "to" || name == "cc" {
                out += ForwardedMessage.addressField(field.name, AddressList(parsing: field.value)) { mailbox in
                    if hidden.contains(mailbox.address.description.lowercased()) { return ["<\(alias)>"] }
                    if let reverse = ReverseAlias(mailbox.address), reverse.alias.domain == alias.domain.lowercased() {
                        return (mailbox.display.map { [$0] } ?? []) + ["<\(reverse.destination)>"]
                    }
                    return [mailbox.raw]
                }
            } else if name == "in-reply-to" || name == "references" {
                // Message ids the owner's own program made name the owner's domain: left out.
                out += threadingField(field, hiddenDomains: Set(hiddenAddresses.map { $0.domain.lowercased() }))
            } else if keptFields.contains(name) {
                out += field.raw
            }
        }
        if !fields.contains(where: { $0.isNamed("Date") }) { out += Array("Date: \(TraceHeader.rfc5322Date(date))\r\n".utf8) }
        out += Array("Message-ID: \(messageID)\r\n\r\n".utf8)
        out += message[bodyStart...]
        let replacement = Array(alias.description.utf8)
        return InlineText.rewrite(out, parts: InlineText.parts(of: out)) { _, body in
            var text = body
            var changed = false
            for address in hidden {
                if let replaced = Self.replacing(Array(address.utf8), with: replacement, in: text) {
                    text = replaced
                    changed = true
                }
            }
            if let unlinked = Self.removingDeactivationLinks(text) {
                text = unlinked
                changed = true
            }
            return changed ? text : nil
        }
    }

    /// In-Reply-To or References without the ids whose domain is one of `hiddenDomains`; the field
    /// is left out when none remain.
    static func threadingField(_ field: HeaderField, hiddenDomains: Set<String>) -> [UInt8] {
        let ids = field.value.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        let kept = ids.filter { id in
            guard let at = id.lastIndex(of: "@") else { return true }
            let domain = id[id.index(after: at)...].trimmingCharacters(in: CharacterSet(charactersIn: ">")).lowercased()
            return !hiddenDomains.contains(domain)
        }
        if kept.count == ids.count { return Array(field.raw) }
        if kept.isEmpty { return [] }
        return ForwardedMessage.folded(field.name, kept.map { [$0] })
    }

    /// The body without the signed part of Postern's banner links (`/deactivate/ID?signature=HEX`):
    /// quoted back in a reply, it would let the other side switch the alias off. Nil when there is none.
    static func removingDeactivationLinks(_ body: [UInt8]) -> [UInt8]? {
        let marker = Array("/deactivate/".utf8)
        let signature = Array("?signature=".utf8)
        var out: [UInt8] = []
        var index = 0
        var found = false
        func isIDByte(_ byte: UInt8) -> Bool { (48...57).contains(byte) || (97...102).contains(byte) || (65...70).contains(byte) || byte == 45 }
        while index < body.count {
            if index + marker.count <= body.count, body[index..<(index + marker.count)].elementsEqual(marker) {
                var end = index + marker.count
                while end < body.count, isIDByte(body[end]) { end += 1 }
                if end + signature.count <= body.count, body[end..<(end + signature.count)].elementsEqual(signature) {
                    end += signature.count
                    while end < body.count, isIDByte(body[end]) { end += 1 }
                    out += Array("/deactivate/(link removed)".utf8)
                    index = end
                    found = true
                    continue
                }
            }
            out.append(body[index])
            index += 1
        }
        return found ? out : nil
    }

    /// `haystack` with every occurrence of `needle` (ASCII letters in any case) replaced; nil when
    /// there is none.
    static func replacing(_ needle: [UInt8], with replacement: [UInt8], in haystack: [UInt8]) -> [UInt8]? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        func lower(_ byte: UInt8) -> UInt8 { (65...90).contains(byte) ? byte + 32 : byte }
        var out: [UInt8] = []
        var index = 0
        var found = false
        while index < haystack.count {
            if index + needle.count <= haystack.count,
               needle.indices.allSatisfy({ lower(haystack[index + $0]) == needle[$0] }) {
                out += replacement
                index += needle.count
                found = true
            } else {
                out.append(haystack[index])
                index += 1
            }
        }
        return found ? out : nil
    }
}
