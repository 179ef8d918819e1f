/// What an SMTP server announced in its EHLO reply (RFC 5321 §4.1.1.1).
public struct SMTPServerCapabilities: Sendable, Equatable {
    public var pipelining = false
    public var startTLS = false
    public var eightBitMIME = false
    public var smtpUTF8 = false
    /// RFC 1870: the server takes `SIZE=` on MAIL (whether or not it named a limit).
    public var size = false
    /// The SIZE the server announced; nil when it gave none or 0 (no limit).
    public var maxSize: Int?

    /// A server greeted with HELO, or one that refused EHLO: no extensions at all.
    public static let none = SMTPServerCapabilities()

    public init() {}

    public init(ehlo reply: SMTPReply) {
        for line in reply.lines.dropFirst() {
            let words = line.split(separator: " ")
            guard let keyword = words.first?.uppercased() else { continue }
            switch keyword {
            case "PIPELINING": pipelining = true
            case "STARTTLS": startTLS = true
            case "8BITMIME": eightBitMIME = true
            case "SMTPUTF8": smtpUTF8 = true
            case "SIZE":
                size = true
                if words.count > 1, let size = Int(words[1]), size > 0 { maxSize = size }
            default: break
            }
        }
    }
}

/// One message handed to a next hop, as a pure plan: the commands to send and what the server's
/// replies mean for each recipient. The channel code only writes and reads.
public struct SMTPClientTransaction: Sendable, Equatable {
    /// The reverse path without brackets, "" for the null sender.
    public var sender: String
    public var recipients: [String]
    /// The message (lines end in CR LF), not yet dot-stuffed.
    public var body: [UInt8]
    /// The envelope or headers hold non-ASCII addresses (RFC 6531).
    public var needsSMTPUTF8: Bool
    /// The body holds octets over 127 (RFC 6152).
    public var is8Bit: Bool

    public init(sender: String, recipients: [String], body: [UInt8], needsSMTPUTF8: Bool, is8Bit: Bool? = nil) {
        self.sender = sender
        self.recipients = recipients
        self.body = body
        self.needsSMTPUTF8 = needsSMTPUTF8
        self.is8Bit = is8Bit ?? body.contains(where: { $0 > 127 })
    }

    /// What happened to one recipient.
    public enum Outcome: Sendable, Equatable {
        case delivered(SMTPReply)
        /// A temporary failure: try again later.
        case deferred(SMTPReply)
        /// A permanent failure: do not try again.
        case failed(SMTPReply)

        init(_ reply: SMTPReply) {
            if reply.isPositive { self = .delivered(reply) } else if reply.isTransientFailure { self = .deferred(reply) } else {
                self = .failed(reply)
            }
        }
    }

    /// Why this server cannot take the message at all, before anything is sent: RFC 6531 §3.4 (no
    /// SMTPUTF8 and no downgrade), RFC 6152 §3 (8-bit data and no 8BITMIME: Postern does not convert
    /// bodies, so the message is returned), RFC 1870 (over the announced SIZE).
    public func refusal(by capabilities: SMTPServerCapabilities) -> SMTPReply? {
        if needsSMTPUTF8 && !capabilities.smtpUTF8 {
            return SMTPReply(553, "5.6.7", "Next hop does not support SMTPUTF8, needed for this message")
        }
        if is8Bit && !capabilities.eightBitMIME {
            return SMTPReply(554, "5.6.3", "Next hop does not support 8BITMIME, needed for this message")
        }
        if let max = capabilities.maxSize, encodedBody().count > max {
            return SMTPReply(552, "5.3.4", "Message is larger than the next hop accepts")
        }
        return nil
    }

    /// MAIL, one RCPT per recipient, and DATA, each without its CR LF.
    public func envelopeCommands(for capabilities: SMTPServerCapabilities) -> [String] {
        var mail = "MAIL FROM:<\(sender)>"
        if capabilities.size { mail += " SIZE=\(body.count)" }
        if is8Bit && capabilities.eightBitMIME { mail += " BODY=8BITMIME" }
        if needsSMTPUTF8 && capabilities.smtpUTF8 { mail += " SMTPUTF8" }
        return [mail] + recipients.map { "RCPT TO:<\($0)>" } + ["DATA"]
    }

    /// The message as sent after 354: a dot at the start of a line doubled, ended by CR LF `.` CR LF.
    public func encodedBody() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count + body.count / 64 + 5)
        // Line by line: a line ends after CR LF (a bare LF does not end one).
        body.withUnsafeBufferPointer { source in
            var start = 0
            while start < source.count {
                if source[start] == UInt8(ascii: ".") { out.append(UInt8(ascii: ".")) }
                var next = source.count
                var search = start
                while search < source.count, let lf = source[search...].firstIndex(of: 10) {
                    if lf > 0 && source[lf - 1] == 13 {
                        next = lf + 1
                        break
                    }
                    search = lf + 1
                }
                out.append(contentsOf: source[start..<next])
                start = next
            }
        }
        if !body.isEmpty && !(body.count >= 2 && body[body.count - 2] == 13 && body[body.count - 1] == 10) {
            out += [13, 10]
        }
        out += [UInt8(ascii: "."), 13, 10]
        return out
    }

    /// The replies seen so far, in the order of `envelopeCommands` and then the one after the body.
    /// Whatever is missing (the connection broke) counts as a temporary failure.
    public func outcomes(mail: SMTPReply?, recipients recipientReplies: [SMTPReply], data: SMTPReply?,
                         final: SMTPReply?) -> [Outcome] {
        let lost = SMTPReply(451, "4.4.2", "Connection to the next hop lost")
        guard let mail else { return recipients.map { _ in .deferred(lost) } }
        guard mail.isPositive else { return recipients.map { _ in Outcome(mail) } }
        return recipients.indices.map { index in
            guard index < recipientReplies.count else { return .deferred(lost) }
            let reply = recipientReplies[index]
            guard reply.isPositive else { return Outcome(reply) }
            guard let data else { return .deferred(lost) }
            guard data.code == 354 else { return Outcome(data.code < 400 ? SMTPReply(451, "4.5.0", "Unexpected reply to DATA") : data) }
            guard let final else { return .deferred(lost) }
            return Outcome(final)
        }
    }
}
