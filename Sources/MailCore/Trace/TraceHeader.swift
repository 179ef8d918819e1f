import Foundation

/// Trace information (RFC 5321 §4.4): the `Received:` line a relay adds on top of a message, and the hop
/// count that stops mail loops (§6.3).
public enum TraceHeader {
    /// More `Received:` lines than this and the message is refused as looping (Postfix's hopcount_limit).
    public static let maxHops = 50

    /// `Received: from HELO (CLIENT) by HOST (Postern) with ESMTP[S][A] id ID [for <RCPT>]; DATE`, folded on
    /// three lines, ending in CR LF.
    public static func received(helo: String, client: String, host: String, tls: Bool, smtpUTF8: Bool, id: String,
                                recipient: String?, at date: Date) -> [UInt8] {
        let with = smtpUTF8 ? (tls ? "UTF8SMTPS" : "UTF8SMTP") : (tls ? "ESMTPS" : "ESMTP")
        let helo = helo.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 32 && $0 != "(" && $0 != ")" && $0 != ";" } ? helo : "unknown"
        var text = "Received: from \(helo) ([\(client)])\r\n\tby \(host) (Postern) with \(with) id \(id)"
        if let recipient { text += "\r\n\tfor <\(recipient)>" }
        text += "; \(rfc5322Date(date))\r\n"
        return Array(text.utf8)
    }

    /// How many `Received:` fields the header section of `message` holds.
    public static func hopCount(_ message: [UInt8]) -> Int {
        var count = 0
        var lineStart = 0
        let prefix = Array("received:".utf8)
        while lineStart < message.count {
            var end = lineStart
            while end < message.count && message[end] != 10 { end += 1 }
            let line = message[lineStart..<end]
            if line.isEmpty || line == [13] { break }  // the blank line ends the header section
            if line.count >= prefix.count,
               zip(line.prefix(prefix.count), prefix).allSatisfy({ ($0 | 0x20) == $1 || $0 == $1 }) {
                count += 1
            }
            lineStart = end + 1
        }
        return count
    }

    /// A message that already passed through Postern this many times is looping between aliases.
    public static let maxPosternHops = 5

    /// How many `Received:` fields Postern wrote (`by HOST (Postern)`), on this node or another.
    public static func posternHops(_ message: [UInt8]) -> Int {
        HeaderField.split(message).fields.filter { $0.isNamed("Received") && $0.value.contains(" (Postern) with ") }.count
    }

    /// `Mon, 23 Nov 2026 13:30:37 +0000`, always in UTC. Written by hand: a `DateFormatter` per call cost
    /// more than the rest of the `Received:` line.
    public static func rfc5322Date(_ date: Date) -> String {
        let parts = date.utcFields
        let weekday = weekdays[Int(parts.tm_wday) % 7]
        let month = months[Int(parts.tm_mon) % 12]
        return "\(weekday), \(twoDigits(parts.tm_mday)) \(month) \(parts.tm_year + 1900) "
            + "\(twoDigits(parts.tm_hour)):\(twoDigits(parts.tm_min)):\(twoDigits(parts.tm_sec)) +0000"
    }

    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    private static func twoDigits(_ value: Int32) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }
}
