/// A delivery status notification (RFC 3464 inside an RFC 6522 multipart/report): what the reporting
/// MTA says happened to each recipient, and the header of the message it returns.
public struct DeliveryReport: Sendable, Equatable {
    public struct Recipient: Sendable, Equatable {
        /// The address the report is about (Final-Recipient, without its `rfc822;` type).
        public var address: String
        /// `failed`, `delayed`, `delivered`, `relayed` or `expanded`.
        public var action: String
        /// The enhanced status code, `5.1.1`.
        public var status: String
        public var remoteMTA: String?
        public var diagnostic: String?

        /// hard, soft or spam, as addy.io labels failed deliveries.
        public var bounceType: BounceType { BounceType(status: status, diagnostic: diagnostic) }
    }

    public enum BounceType: String, Sendable {
        case hard, soft, spam

        init(status: String, diagnostic: String?) {
            let text = (diagnostic ?? "").lowercased()
            let spamWords = ["spam", "blocklist", "blacklist", "block list", "reputation", "junk", "phish", "policy"]
            if status.hasPrefix("5.7") || spamWords.contains(where: text.contains) {
                self = .spam
            } else if status.hasPrefix("4") {
                self = .soft
            } else {
                self = .hard
            }
        }
    }

    /// Reports about more recipients than this are read only that far.
    public static let maxGroups = 51

    public var reportingMTA: String?
    public var recipients: [Recipient]
    /// The header fields of the returned message (message/rfc822 or text/rfc822-headers), if any.
    public var returnedFields: [HeaderField]

    /// The report in `message`, or nil when it is not a delivery status notification.
    public init?(_ message: [UInt8]) {
        let root = MIMEEntity(message: message)
        guard let status = root.allEntities.first(where: {
            $0.contentType.type == "message" && ($0.contentType.subtype == "delivery-status" || $0.contentType.subtype == "global-delivery-status")
        }) else { return nil }
        // Groups of fields separated by blank lines, read in place; at most `maxGroups`.
        var groups: [[HeaderField]] = []
        var index = status.bodyRange.lowerBound
        let end = status.bodyRange.upperBound
        while index < end, groups.count < Self.maxGroups {
            while index < end, message[index] == 13 || message[index] == 10 { index += 1 }
            guard index < end else { break }
            let (fields, next) = HeaderField.split(message[index..<end])
            if !fields.isEmpty { groups.append(fields) }
            guard next > index else { break }
            index = next
        }
        guard let perMessage = groups.first else { return nil }
        reportingMTA = Self.typed(perMessage.first { $0.isNamed("Reporting-MTA") }?.value)
        recipients = groups.dropFirst().compactMap { fields in
            guard let address = Self.typed(fields.first { $0.isNamed("Final-Recipient") }?.value
                ?? fields.first { $0.isNamed("Original-Recipient") }?.value),
                let action = fields.first(where: { $0.isNamed("Action") })?.value.lowercased(),
                let status = fields.first(where: { $0.isNamed("Status") })?.value
            else { return nil }
            return Recipient(
                address: address, action: action, status: String(status.prefix { $0 != " " && $0 != "(" }),
                remoteMTA: Self.typed(fields.first { $0.isNamed("Remote-MTA") }?.value),
                diagnostic: Self.typed(fields.first { $0.isNamed("Diagnostic-Code") }?.value))
        }
        if let returned = root.allEntities.first(where: {
            $0.contentType.mimeType == "message/rfc822" || $0.contentType.mimeType == "text/rfc822-headers"
                || $0.contentType.mimeType == "message/global" || $0.contentType.mimeType == "message/global-headers"
        }) {
            returnedFields = HeaderField.split(message[returned.bodyRange]).fields
        } else {
            returnedFields = []
        }
    }

    /// The recipients delivery failed for.
    public var failed: [Recipient] { recipients.filter { $0.action == "failed" } }

    /// A returned header field's value.
    public func returned(_ name: String) -> String? { returnedFields.first { $0.isNamed(name) }?.value }

    /// `rfc822; alice@example.com` → `alice@example.com`; `smtp; 550 …` → `550 …`.
    static func typed(_ value: String?) -> String? {
        guard let value else { return nil }
        guard let semicolon = value.firstIndex(of: ";") else { return value.isEmpty ? nil : value }
        let text = String(value[value.index(after: semicolon)...]).trimmingWhitespace()
        return text.isEmpty ? nil : text
    }
}
