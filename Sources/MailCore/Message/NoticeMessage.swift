import Foundation

/// A message Postern itself writes to a user (a recipient's verification link, a failed delivery):
/// plain UTF-8 text, marked `Auto-Submitted: auto-generated` (RFC 3834) so that auto-responders stay
/// quiet.
public struct NoticeMessage: Sendable, Equatable {
    public var from: EmailAddress
    public var to: EmailAddress
    public var subject: String
    public var text: String

    public init(from: EmailAddress, to: EmailAddress, subject: String, text: String) {
        self.from = from
        self.to = to
        self.subject = subject
        self.text = text
    }

    public func bytes(date: Date = Date(), id: String = UUID().uuidString.lowercased()) -> [UInt8] {
        let subjectText = subject.unicodeScalars.allSatisfy { $0.isASCII && $0.value >= 32 }
            ? subject : EncodedWord.encode(subject).joined(separator: "\r\n ")
        var body = Array(text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n").utf8)
        if body.last != 10 { body += [13, 10] }
        // Plain 7bit when it can be; quoted-printable for non-ASCII or long lines.
        let plain = body.allSatisfy { $0 < 128 } && body.split(separator: 10).allSatisfy { $0.count <= 78 }
        let header = [
            "From: Postern <\(from)>", "To: <\(to)>", "Subject: \(subjectText)", "Date: \(TraceHeader.rfc5322Date(date))",
            "Message-ID: <\(id)@\(from.domain)>", "Auto-Submitted: auto-generated", "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: \(plain ? "7bit" : "quoted-printable")",
        ].joined(separator: "\r\n") + "\r\n\r\n"
        return Array(header.utf8) + (plain ? body : TransferEncoding.quotedPrintable.encode(body))
    }
}
