import Foundation
import MailCore

/// A message as the spool keeps it: the envelope Postern accepted and, per final destination, where it
/// goes. Everything delivery needs is here, so a queued message is delivered even while the database
/// is down.
public struct SpooledMessage: Codable, Sendable, Equatable {
    /// One copy to send: to a real mailbox, on behalf of one alias.
    public struct Delivery: Codable, Sendable, Equatable, Hashable {
        /// The mailbox the copy goes to.
        public var recipient: String
        /// The address the sender wrote to (an alias, or a reverse alias).
        public var alias: String
        public var aliasID: String?
        public var userID: String?
        public var recipientID: String?
        /// How the copy is presented; nil in files written before styles existed (the default then).
        public var style: ForwardingStyle?
        /// A message Postern wrote itself (`NoticeMessage`): sent as it is, from its own sender, signed
        /// for the domain of `alias` (which holds that sender); nil or false for forwarded mail.
        public var notice: Bool?
        /// A reply or new message sent through the alias `alias` (already rewritten by `ReplyMessage`):
        /// sent as it is, from the message's sender (the alias), signed for the alias domain.
        public var reply: Bool?
        /// Encrypt the copy to the recipient's OpenPGP key; nil: sent as it is.
        public var encryption: RecipientEncryption?

        public init(recipient: String, alias: String, aliasID: String?, userID: String?, recipientID: String?,
                    style: ForwardingStyle? = nil, notice: Bool? = nil, reply: Bool? = nil, encryption: RecipientEncryption? = nil) {
            self.encryption = encryption
            self.notice = notice
            self.reply = reply
            self.recipient = recipient
            self.alias = alias
            self.aliasID = aliasID
            self.userID = userID
            self.recipientID = recipientID
            self.style = style
        }
    }

    public var id: QueueID
    public var receivedAt: Date
    public var clientAddress: String
    public var heloName: String
    /// The envelope sender as given; nil for the null sender `<>`.
    public var sender: String?
    public var smtpUTF8: Bool
    public var deliveries: [Delivery]

    public init(id: QueueID, receivedAt: Date, clientAddress: String, heloName: String, sender: String?,
                smtpUTF8: Bool, deliveries: [Delivery]) {
        self.id = id
        self.receivedAt = receivedAt
        self.clientAddress = clientAddress
        self.heloName = heloName
        self.sender = sender
        self.smtpUTF8 = smtpUTF8
        self.deliveries = deliveries
    }
}

/// The name of a queued message: 18 upper-case hex digits, time-ordered, unique within a node
/// (and, by its random part, across nodes sharing the deferred queue). Spools written by
/// earlier builds hold 16-digit ids, which are still read.
public struct QueueID: Codable, Sendable, Hashable, Comparable, CustomStringConvertible {
    public let text: String

    public init?(_ text: String) {
        guard text.count == 16 || text.count == 18,
              text.utf8.allSatisfy({ (48...57).contains($0) || (65...70).contains($0) }) else { return nil }
        self.text = text
    }

    /// A new id: microseconds since 1970 in the first 13 digits (52 bits: no wrap for 140 years), then
    /// 5 random ones.
    public static func make(now: Date = Date()) -> QueueID {
        let micros = UInt64(max(0, now.timeIntervalSince1970 * 1_000_000)) & 0xF_FFFF_FFFF_FFFF
        let random = UInt64.random(in: 0...0xFFFFF)
        let text = String(micros, radix: 16, uppercase: true).leftPadded(to: 13) + String(random, radix: 16, uppercase: true).leftPadded(to: 5)
        return QueueID(text)!
    }

    public var description: String { text }
    public static func < (a: QueueID, b: QueueID) -> Bool { a.text < b.text }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = QueueID(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad queue id"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
