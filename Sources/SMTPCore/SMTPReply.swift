/// An SMTP reply: a three-digit code, an RFC 3463 enhanced status code, and one or more text lines.
public struct SMTPReply: Sendable, Equatable {
    public var code: Int
    public var enhanced: String?
    public var lines: [String]

    public init(_ code: Int, _ enhanced: String?, _ lines: String...) {
        self.init(code: code, enhanced: enhanced, lines: lines)
    }

    public init(code: Int, enhanced: String?, lines: [String]) {
        precondition((200...599).contains(code), "SMTP reply codes are 2xx to 5xx")
        self.code = code
        self.enhanced = enhanced
        self.lines = lines.isEmpty ? [""] : lines
    }

    public var isPositive: Bool { code < 400 }
    public var isTransientFailure: Bool { (400..<500).contains(code) }
    public var isPermanentFailure: Bool { code >= 500 }

    /// The reply on the wire: `250-first` … `250 last`, each line ending in CRLF. Text is cleaned of
    /// CR and LF, so nothing a caller puts in a reply can start a line of its own.
    public var wireBytes: [UInt8] {
        var out: [UInt8] = []
        for (index, line) in lines.enumerated() {
            let separator = index == lines.count - 1 ? " " : "-"
            var text = "\(code)\(separator)"
            if let enhanced { text += enhanced + " " }
            text += String(String.UnicodeScalarView(line.unicodeScalars.map { $0 == "\r" || $0 == "\n" ? " " : $0 }))
            out += Array(text.utf8) + [13, 10]
        }
        return out
    }
}

extension SMTPReply {
    public static func ok(_ text: String = "Ok") -> SMTPReply { SMTPReply(250, "2.0.0", text) }
    public static let syntaxError = SMTPReply(500, "5.5.2", "Error: command not recognized")
    public static let badLineEnding = SMTPReply(500, "5.5.2", "Error: bare <CR> or <LF> received")
    public static let lineTooLong = SMTPReply(500, "5.5.2", "Error: command line too long")
    public static func argumentError(_ text: String) -> SMTPReply { SMTPReply(501, "5.5.4", text) }
    public static let badSequence = SMTPReply(503, "5.5.1", "Error: bad sequence of commands")
    public static let unknownUser = SMTPReply(550, "5.1.1", "Recipient address rejected: User unknown")
    public static let relayDenied = SMTPReply(554, "5.7.1", "Relay access denied")
    public static let tooManyRecipients = SMTPReply(452, "4.5.3", "Error: too many recipients")
    public static let rateLimited = SMTPReply(452, "4.2.2", "Recipient over its rate limit, try again later")
    public static let overQuota = SMTPReply(552, "5.2.2", "Recipient over its monthly bandwidth")
    public static let databaseUnavailable = SMTPReply(451, "4.3.0", "Temporary lookup failure, try again later")
    public static let messageTooBig = SMTPReply(552, "5.3.4", "Error: message file too big")
    public static let draining = SMTPReply(421, "4.3.2", "Service shutting down, try another MX")
    public static let tooManyErrors = SMTPReply(421, "4.7.0", "Error: too many errors")
    public static let bareLineEndingInData = SMTPReply(550, "5.5.2", "Error: bare <CR> or <LF> in message data")
    public static let dataLineTooLong = SMTPReply(550, "5.5.2", "Error: message line longer than 1000 octets")
}

/// A refusal can travel as an error: `Result<QueueID, SMTPReply>` from the store, say.
extension SMTPReply: Error {}
