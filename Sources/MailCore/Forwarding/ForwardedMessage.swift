/// The header rewrite of a forwarded copy (SPEC §5), done on the original bytes: fields Postern does
/// not change go out exactly as they came, with their folding; only the fields it writes are new.
///
/// - `From` becomes the sender's display (per the owner's `ForwardingStyle`) with the reverse alias of
///   the sender as the address, or the alias itself with `Reply-To: reverse alias`. The reverse alias
///   is made from the original `Reply-To` when there is one, else from `From`, else from the envelope.
/// - Addresses in `To` and `Cc` other than the alias become reverse aliases, so reply-all stays behind
///   the alias.
/// - Fields that would route replies or receipts around the alias, or that a forwarded copy can no
///   longer vouch for, are dropped: `Return-Path`, `DKIM-Signature`, `Sender`, `Mail-Followup-To`,
///   `Mail-Reply-To`, `Disposition-Notification-To`, `Return-Receipt-To`, `Bcc`, and any
///   `X-Postern-*` a sender made up.
/// - `X-Postern-Original-Sender` and `X-Postern-Alias` tell the recipient who wrote to which alias;
///   `X-Postern-Reference`, a tag only this node can make, lets a returned bounce prove its alias.
/// - The banner, when the style has one, goes into the text and HTML bodies (`Banner`).
public enum ForwardedMessage {
    static let droppedFields: Set<String> = [
        "return-path", "dkim-signature", "sender", "mail-followup-to", "mail-reply-to", "disposition-notification-to",
        "return-receipt-to", "x-confirm-reading-to", "errors-to", "bcc",
    ]

    /// The longest display name Postern writes, in characters.
    static let maxDisplay = 200

    public static func rewrite(_ message: [UInt8], alias: EmailAddress, envelopeSender: EmailAddress?,
                               style: ForwardingStyle, deactivateLink: String? = nil, reference: String? = nil) -> [UInt8] {
        let (fields, bodyStart) = HeaderField.split(message)
        let author = fields.first { $0.isNamed("From") }.flatMap { AddressList(parsing: $0.value).mailboxes.first }
        let replyTo = fields.first { $0.isNamed("Reply-To") }.flatMap { AddressList(parsing: $0.value).mailboxes.first }
        let sender = author?.address ?? envelopeSender
        // A quoted local part (`"a b"@x`) or an address literal cannot sit inside a reverse alias: From
        // is the alias then.
        let reverse = (replyTo?.address ?? sender).flatMap { Self.fitsReverseAlias($0) ? ReverseAlias(alias: alias, destination: $0) : nil }
        let display = sender.flatMap { style.display(name: author?.displayText.map(Self.cleaned), address: $0) }

        var newFrom: [UInt8]
        var newReplyTo: [UInt8] = []
        if style.useReplyTo || reverse == nil {
            newFrom = mailboxField("From", display: display, address: alias.description)
            if let reverse { newReplyTo = mailboxField("Reply-To", display: nil, address: reverse.description) }
        } else {
            newFrom = mailboxField("From", display: display, address: reverse!.description)
        }

        var out: [UInt8] = []
        out.reserveCapacity(message.count + 512)
        var markedSubject = false
        for field in fields {
            let name = field.name.lowercased()
            if droppedFields.contains(name) || name.hasPrefix("x-postern-") { continue }
            switch name {
            case "from":
                out += newFrom + newReplyTo
                newFrom = []
                newReplyTo = []
            case "reply-to":
                continue
            case "subject" where style.dmarcWarning == .subject && !markedSubject:
                let colon = field.raw.firstIndex(of: UInt8(ascii: ":")).map { $0 + 1 } ?? field.raw.endIndex
                out += Array("Subject: \(Self.dmarcMark)".utf8)
                out += field.raw[colon...].first == 32 ? Array(field.raw[colon...]) : [32] + field.raw[colon...]
                markedSubject = true
            case "to", "cc":
                out += addressField(field.name, AddressList(parsing: field.value)) { mailboxPieces($0, alias: alias) }
            default:
                out += field.raw
            }
        }
        out += newFrom + newReplyTo
        if style.dmarcWarning == .subject && !markedSubject { out += Array("Subject: \(Self.dmarcMark)\r\n".utf8) }
        if let sender { out += Array("X-Postern-Original-Sender: \(sender)\r\n".utf8) }
        out += Array("X-Postern-Alias: \(alias)\r\n".utf8)
        if let reference { out += Array("X-Postern-Reference: \(reference)\r\n".utf8) }
        out += [13, 10]
        out += message[bodyStart...]
        if style.banner != .off {
            let banner = Banner(location: style.banner == .top ? .top : .bottom, alias: alias.description,
                                sender: sender?.description, deactivateLink: deactivateLink)
            out = banner.insert(into: out)
        }
        if style.dmarcWarning == .banner { out = Banner.warn(out, authorDomain: author?.address.domain) }
        return out
    }

    /// What marks the subject of a message that failed its author's enforced DMARC policy.
    static let dmarcMark = "[DMARC FAIL]"

    /// A display name without control characters, trimmed to a sensible length.
    static func cleaned(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars.prefix(maxDisplay) { scalars.append(scalar.value < 32 || scalar.value == 127 ? " " : scalar) }
        return String(scalars).trimmingWhitespace()
    }

    static func mailboxField(_ name: String, display: String?, address: String) -> [UInt8] {
        var pieces: [String] = []
        if let display {
            let phrase = AddressList.quoted(display)
            pieces += phrase.hasPrefix("\"") ? [phrase] : phrase.split(separator: " ").map(String.init)
        }
        pieces.append("<\(address)>")
        return folded(name, pieces.map { [$0] })
    }

    /// To or Cc with every mailbox written anew by `write` (as pieces to fold between), inside groups
    /// too. Anything that is not readable as an address is left out: a mail client might still read
    /// it, and a reply-all would then bypass the alias.
    static func addressField(_ name: String, _ list: AddressList, _ write: (AddressList.Mailbox) -> [String]) -> [UInt8] {
        var items: [[String]] = []
        for item in list.items {
            switch item {
            case .other(let raw):
                // A group: `name: members;`, its members rewritten; an empty group stays as it is.
                guard let colon = raw.firstIndex(of: ":"), !raw[..<colon].contains("<"), !raw[..<colon].contains("\"") else { continue }
                let label = String(raw[..<colon]).trimmingWhitespace()
                var members = raw[raw.index(after: colon)...]
                if let semicolon = members.lastIndex(of: ";") { members = members[..<semicolon] }
                let inner = AddressList(parsing: String(members)).mailboxes.map { write($0).joined(separator: " ") }
                items.append(inner.isEmpty ? ["\(label):;"] : ["\(label):", inner.joined(separator: ", ") + ";"])
            case .mailbox(let mailbox):
                items.append(write(mailbox))
            }
        }
        for index in items.indices.dropLast() { items[index][items[index].count - 1] += "," }
        return folded(name, items)
    }

    /// The alias itself as written; anyone else as `display <reverse alias>` (an address with a quoted
    /// local part, which a reverse alias cannot hold, as its display only: `"a b at x" <alias>`).
    static func mailboxPieces(_ mailbox: AddressList.Mailbox, alias: EmailAddress) -> [String] {
        let own = ReverseAlias(alias: alias, destination: alias).alias
        if ReverseAlias(alias: mailbox.address, destination: alias).alias == own { return [mailbox.raw] }
        if !fitsReverseAlias(mailbox.address) {
            return [AddressList.quoted("\(mailbox.address.localPart.filter { $0 != "\"" }) at \(mailbox.address.domain)"), "<\(alias)>"]
        }
        let display = mailbox.display ?? AddressList.quoted("\(mailbox.address.localPart) at \(mailbox.address.domain)")
        return [display, "<\(ReverseAlias(alias: alias, destination: mailbox.address))>"]
    }

    static func fitsReverseAlias(_ address: EmailAddress) -> Bool {
        !address.localPart.hasPrefix("\"") && !address.domain.hasPrefix("[")
    }

    /// `Name: ` and the pieces, each group of pieces kept together where it fits, lines folded before a
    /// group (or a piece) that would pass 78 characters.
    static func folded(_ name: String, _ groups: [[String]]) -> [UInt8] {
        var out = name + ":"
        var lineLength = out.utf8.count
        // A piece too long for a line is cut at its blanks (folding white space may stand there, inside
        // quoted strings too), so no line passes 998 octets unless one word does.
        let groups = groups.map { group in
            group.flatMap { piece in piece.utf8.count > 76 ? piece.split(separator: " ").map(String.init) : [piece] }
        }
        for group in groups {
            let whole = group.joined(separator: " ")
            if lineLength + 1 + whole.utf8.count <= 78 || lineLength <= name.utf8.count + 1 {
                out += " " + whole
                lineLength += 1 + whole.utf8.count
                continue
            }
            for piece in group {
                if lineLength + 1 + piece.utf8.count > 78, lineLength > 1 {
                    out += "\r\n"
                    lineLength = 0
                }
                out += " " + piece
                lineLength += 1 + piece.utf8.count
            }
        }
        return Array((out + "\r\n").utf8)
    }
}
