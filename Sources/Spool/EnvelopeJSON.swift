import Foundation
import MailCore

/// The envelope of a spooled message as JSON, written by hand: the same document `JSONEncoder` makes
/// of `SpooledMessage` (read back with `JSONDecoder`), without building a tree of boxed values for
/// every message. The test `envelopeJSONCoversEveryField` fails when a stored property is added to
/// `SpooledMessage`, its `Delivery` or `ForwardingStyle` without being written here.
enum EnvelopeJSON {
    static func encode(_ message: SpooledMessage) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + 256 * message.deliveries.count)
        out += Array(#"{"id":"#.utf8)
        string(message.id.text, into: &out)
        out += Array(#","receivedAt":"#.utf8)
        out += Array(message.receivedAt.timeIntervalSinceReferenceDate.description.utf8)
        out += Array(#","clientAddress":"#.utf8)
        string(message.clientAddress, into: &out)
        out += Array(#","heloName":"#.utf8)
        string(message.heloName, into: &out)
        if let sender = message.sender {
            out += Array(#","sender":"#.utf8)
            string(sender, into: &out)
        }
        out += Array((message.smtpUTF8 ? #","smtpUTF8":true,"deliveries":["# : #","smtpUTF8":false,"deliveries":["#).utf8)
        for (index, delivery) in message.deliveries.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            try encode(delivery, into: &out)
        }
        out += Array("]}".utf8)
        return out
    }

    private static func encode(_ delivery: SpooledMessage.Delivery, into out: inout [UInt8]) throws {
        out += Array(#"{"recipient":"#.utf8)
        string(delivery.recipient, into: &out)
        out += Array(#","alias":"#.utf8)
        string(delivery.alias, into: &out)
        for (key, value) in [("aliasID", delivery.aliasID), ("userID", delivery.userID), ("recipientID", delivery.recipientID)] {
            guard let value else { continue }
            out += Array(",\"\(key)\":".utf8)
            string(value, into: &out)
        }
        if let style = delivery.style {
            out += Array(#","style":{"fromDisplay":"#.utf8)
            out += Array(String(style.fromDisplay.rawValue).utf8)
            out += Array((style.useReplyTo ? #","useReplyTo":true,"banner":"# : #","useReplyTo":false,"banner":"#).utf8)
            string(style.banner.rawValue, into: &out)
            if let warning = style.dmarcWarning {
                out += Array(#","dmarcWarning":"#.utf8)
                string(warning.rawValue, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        for (key, value) in [("notice", delivery.notice), ("reply", delivery.reply)] {
            guard let value else { continue }
            out += Array(",\"\(key)\":\(value)".utf8)
        }
        if let encryption = delivery.encryption {
            // Rare (a mailbox with a key): the standard encoder is fine here.
            out += Array(#","encryption":"#.utf8)
            out += Array(try JSONEncoder().encode(encryption))
        }
        out.append(UInt8(ascii: "}"))
    }

    /// A JSON string: `"` and `\` escaped, control characters as `\u00XX`, everything else as it is.
    static func string(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for octet in text.utf8 {
            switch octet {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(octet)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += Array("\\u00".utf8)
                out.append(hex[Int(octet >> 4)])
                out.append(hex[Int(octet & 0x0F)])
            default:
                out.append(octet)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
