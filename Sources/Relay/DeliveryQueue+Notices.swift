import Directory
import Foundation
import MailAuth
import MailCore
import Spool

/// Messages the queue makes itself: a failed delivery sent again, and notices to users (verification
/// links, failed deliveries, reached limits) and the auto-replies passed on to them.
extension DeliveryQueue {
    /// Queues a failed delivery's kept message again, for the same mailbox and alias, presented as the
    /// alias owner wants it now (`POST /api/v1/failed-deliveries/{id}/resend`).
    public func resend(_ failure: FailedDelivery, sender: String?, message body: [UInt8]) async throws {
        guard let recipient = failure.recipientEmail, let aliasEmail = failure.aliasEmail else {
            throw ResendProblem("this failed delivery names no recipient or alias")
        }
        var style = try await routing.alias(email: aliasEmail)?.style
        // Encrypted as the mailbox wants it now (it may have a new key since).
        var encryption: RecipientEncryption?
        if let recipientID = failure.recipientID { encryption = try await routing.encryption(ofRecipient: recipientID) }
        if !MessageAuthentication.recordedEnforcedDMARCFailure(in: body, authservID: settings.heloName) { style?.dmarcWarning = nil }
        let message = SpooledMessage(
            id: QueueID.make(), receivedAt: Date(), clientAddress: "api", heloName: "resend", sender: sender, smtpUTF8: true,
            deliveries: [.init(recipient: recipient, alias: aliasEmail, aliasID: failure.aliasID, userID: failure.userID,
                               recipientID: failure.recipientID, style: style, encryption: encryption)])
        try await store(message, body: body, what: "resend for \(aliasEmail)")
    }

    /// Queues a message Postern wrote itself; it is signed for its sender's domain and sent as written.
    public func submit(_ notice: NoticeMessage) async throws {
        try await submit(notice.bytes(), from: notice.from, to: notice.to, what: notice.subject)
    }

    /// Queues `body` as it is, from `from` (envelope and DKIM domain), to one mailbox; encrypted to
    /// its key with `encryption`.
    public func submit(_ body: [UInt8], from: EmailAddress, to: EmailAddress, what: String, recipientID: String? = nil,
                       encryption: RecipientEncryption? = nil) async throws {
        let message = SpooledMessage(
            id: QueueID.make(), receivedAt: Date(), clientAddress: "local", heloName: "postern", sender: from.description,
            smtpUTF8: !to.description.allSatisfy(\.isASCII),
            deliveries: [.init(recipient: to.description, alias: from.description, aliasID: nil, userID: nil,
                               recipientID: recipientID, notice: true, encryption: encryption)])
        try await store(message, body: body, what: what)
    }

    /// Spools a message made here (not received) and queues it.
    private func store(_ message: SpooledMessage, body: [UInt8], what: String) async throws {
        try await spool.store(message, body: body)
        logger.info("queued", metadata: ["queue_id": "\(message.id)", "to": "\(message.deliveries.map(\.recipient).joined(separator: ","))",
                                         "what": "\(what)"])
        _ = admit(message, body: body)  // made by a delivery: never held back
    }

    public struct ResendProblem: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// Mails a user whose mail is being refused for a limit (once an hour per limit at most).
    public func tellLimitReached(userID: String, limit: RecipientPolicy.Reason) async {
        let (subject, text): (String, String)
        switch limit {
        case .over_rate:
            (subject, text) = ("Your aliases have had too many messages this hour",
                               "Mail to your aliases is refused for now (senders are asked to try again later): the\nmessages-per-hour limit of your account is reached. It clears at the next hour.")
        case .over_bandwidth:
            (subject, text) = ("Your monthly forwarding bandwidth is used up",
                               "Mail to your aliases is refused until next month: your account has forwarded as\nmany bytes this month as its limit allows.")
        default:
            (subject, text) = ("Too many new aliases this hour",
                               "Mail to new addresses under your usernames or domains is refused for now: the\nlimit of aliases created per hour is reached. Existing aliases still work.")
        }
        await notifyOwner(userID, kind: limit.rawValue, subject: subject, text: text)
    }

    /// Mails the owner's default recipient that a copy failed (or that a reply was refused), unless that mailbox is the one that
    /// failed, or the owner was told within the hour.
    func tellOwner(of failure: FailedDelivery, refusedReply: Bool = false) async {
        // A copy held for its key: `encryptionFailed` told the owner why.
        if failure.remoteMTA == Self.heldForKey { return }
        let alias = failure.aliasEmail ?? "one of your aliases"
        if refusedReply {
            await notifyOwner(
                failure.userID, kind: "reply", subject: "A message from \(alias) was not sent",
                text: """
                    A message to \(failure.recipientEmail ?? "a reverse alias") was to leave through your alias \(alias)
                    \(failure.sender.map { "with From: \($0)" } ?? ""). Postern did not send it.
                    \(failure.code ?? "")

                    If you sent it, check that your mail provider signs your mail (DKIM) or
                    that its servers are in your domain's SPF record. If you did not, someone
                    tried to send mail as you; nothing left. It is listed under failed
                    deliveries (id \(failure.id)).
                    """)
            return
        }
        if failure.emailType == "R" {
            await notifyOwner(
                failure.userID, kind: "failure", unless: failure.recipientEmail,
                subject: "A message from \(alias) could not be delivered",
                text: """
                    Postern could not deliver the message you sent from your alias \(alias)
                    to \(failure.recipientEmail ?? "its recipient").
                    The receiving server said: \(failure.code ?? "nothing")

                    It is listed under failed deliveries (id \(failure.id)).
                    """)
            return
        }
        await notifyOwner(
            failure.userID, kind: "failure", unless: failure.recipientEmail,
            subject: "A message to \(alias) could not be delivered",
            text: """
                Postern could not deliver a message to \(failure.recipientEmail ?? "your mailbox").
                It was sent to your alias \(alias)\(failure.sender.map { " by \($0)" } ?? "").
                The receiving server said: \(failure.code ?? "nothing")

                The message is kept for 7 days. It is listed under failed deliveries
                (id \(failure.id)), from where it can be sent again.
                """)
    }

    /// Sends a notice to a user's verified default mailbox, at most one of each `kind` an hour per user
    /// and node, and none when that mailbox is `unless` (the one that is failing).
    func notifyOwner(_ userID: String, kind: String, unless failing: String? = nil, subject: String, text: String) async {
        guard let from = settings.noticeSender else { return }
        let key = kind + " " + userID
        let now = Date()
        if let last = lastNotice[key], now.timeIntervalSince(last) < 3600 { return }
        lastNotice[key] = now  // before any await: attempts run side by side
        do {
            guard let mailbox = try await routing.defaultRecipient(userID: userID),
                  mailbox.lowercased() != failing?.lowercased(),
                  let to = try? EmailAddress(parsing: mailbox)
            else { return }
            try await submit(NoticeMessage(from: from, to: to, subject: subject, text: text))
        } catch {
            logger.warning("could not queue a notice", metadata: ["kind": "\(kind)", "error": "\(error)"])
        }
    }
}
