import Directory
import Foundation
import Logging
import MailCore
import SMTPCore
import SMTPServer
import Spool
import Synchronization

/// What the SMTP server asks of the node: the RCPT decision, and storing an accepted message durably
/// before the 250 (then handing it to the delivery queue).
public final class InboundMail: SMTPServerDelegate {
    let policy: RecipientPolicy
    let spool: Spool
    let queue: DeliveryQueue
    let metrics: NodeMetrics
    let failures: FailedDeliveries
    /// `notifications.from`: the sender auto-replies are passed on from; nil: they are dropped.
    let noticeSender: EmailAddress?
    /// The node secrets (`srs.secrets`) that check a returned bounce's `X-Postern-Reference`.
    let secrets: [String]
    let logger: Logger
    /// The name this node gives in its Received lines.
    let hostname: String
    private let draining = Atomic<Bool>(false)

    public init(policy: RecipientPolicy, spool: Spool, queue: DeliveryQueue, metrics: NodeMetrics, failures: FailedDeliveries,
                noticeSender: EmailAddress? = nil, secrets: [String] = [], hostname: String, logger: Logger) {
        self.failures = failures
        self.secrets = secrets
        self.noticeSender = noticeSender
        self.policy = policy
        self.hostname = hostname
        self.spool = spool
        self.queue = queue
        self.metrics = metrics
        self.logger = logger
    }

    public var isDraining: Bool { draining.load(ordering: .relaxed) }
    public func setDraining(_ value: Bool) { draining.store(value, ordering: .relaxed) }

    public func checkRecipient(_ recipient: EmailAddress, envelope: InboundSession.Envelope, client: String) async
        -> InboundSession.RecipientDecision
    {
        let (decision, reason) = await policy.decide(recipient)
        if reason != .accepted && reason != .bounce {
            metrics.rejected(reason)
            let reply: String
            if case .reject(let refusal) = decision { reply = DeliveryQueue.text(refusal) } else { reply = "250 accepted and dropped" }
            logger.info("rejected", metadata: [
                "client": "\(client)", "from": "\(envelope.sender?.description ?? "<>")", "to": "\(recipient)",
                "reason": "\(reason.rawValue)", "reply": "\(reply)",
            ])
        }
        return decision
    }

    public func store(_ envelope: InboundSession.Envelope, body received: [UInt8], client: String) async
        -> Result<String, SMTPReply>
    {
        if TraceHeader.hopCount(received) > TraceHeader.maxHops {
            metrics.rejected(.mail_loop)
            logger.info("rejected", metadata: ["client": "\(client)", "reason": "mail_loop",
                                               "from": "\(envelope.sender?.description ?? "<>")"])
            return .failure(SMTPReply(554, "5.4.6", "Too many hops: mail forwarding loop"))
        }
        if TraceHeader.posternHops(received) >= TraceHeader.maxPosternHops {
            metrics.rejected(.mail_loop)
            logger.info("rejected", metadata: ["client": "\(client)", "reason": "mail_loop", "postern_hops": "\(TraceHeader.posternHops(received))"])
            return .failure(SMTPReply(554, "5.4.6", "Mail forwarding loop: this message passed through Postern too often"))
        }
        let bounces = envelope.routes.filter { $0.bounceFor != nil }
        if !bounces.isEmpty {
            if let refusal = await recordBounce(received, to: bounces, client: client) { return .failure(refusal) }
            if bounces.count == envelope.routes.count { return .success("bounce") }
        }
        let id = QueueID.make()
        let now = Date()
        let body = TraceHeader.received(
            helo: envelope.heloName, client: client, host: hostname, tls: envelope.tls, smtpUTF8: envelope.smtpUTF8,
            id: id.text, recipient: envelope.recipients.count == 1 ? envelope.recipients[0].description : nil, at: now)
            + received
        var deliveries: [SpooledMessage.Delivery] = []
        var planned = Set<[String]>()  // one copy per alias and mailbox, however often the alias was named
        // Mail from a mailbox to an alias that forwards to that same mailbox is not sent back around.
        let sender = envelope.sender?.description.lowercased()
        for route in envelope.routes where route.bounceFor == nil {
            for destination in route.destinations where destination.email.lowercased() != sender
                && planned.insert([route.aliasID, destination.recipientID]).inserted {
                deliveries.append(.init(recipient: destination.email, alias: route.alias, aliasID: route.aliasID,
                                        userID: route.userID, recipientID: destination.recipientID, style: route.style))
            }
        }
        if deliveries.isEmpty {
            // Every recipient was dropped (a deactivated alias, or mail from the alias's own mailbox).
            logger.info("accepted and dropped: nothing to forward", metadata: [
                "client": "\(client)", "from": "\(envelope.sender?.description ?? "<>")",
                "to": "\(envelope.recipients.map(\.description).joined(separator: ","))",
            ])
            return .success("dropped")
        }
        let message = SpooledMessage(
            id: id, receivedAt: now, clientAddress: client, heloName: envelope.heloName,
            sender: envelope.sender?.description, smtpUTF8: envelope.smtpUTF8, deliveries: deliveries)
        do {
            try await spool.store(message, body: body)
        } catch {
            logger.error("could not store a message", metadata: ["error": "\(error)"])
            return .failure(SMTPReply(451, "4.3.0", "Error: queue file write error, try again later"))
        }
        metrics.accepted()
        logger.info("accepted", metadata: [
            "queue_id": "\(id)", "client": "\(client)", "from": "\(envelope.sender?.description ?? "<>")",
            "to": "\(envelope.recipients.map(\.description).joined(separator: ","))", "size": "\(body.count)",
        ])
        await queue.enqueue(message, body: body)
        return .success(id.text)
    }

    /// A message to a bounce address: a delivery report becomes a failed delivery for the alias owner
    /// (the alias is named in the returned header Postern wrote); nothing goes back to the original
    /// sender, which would reveal the real mailbox. Returns the reply to give instead of 250 when the
    /// report cannot be recorded now.
    func recordBounce(_ message: [UInt8], to routes: [RecipientRoute], client: String) async -> SMTPReply? {
        guard let report = DeliveryReport(message) else { return await passOnAutoReply(message, client: client) }
        guard !report.failed.isEmpty else {
            logger.info("delivery report without failures; dropped", metadata: ["client": "\(client)"])
            return nil
        }
        // The alias must be vouched for by the reference this node put beside it: anyone can write a
        // report to a bounce address, but only a copy Postern sent carries a valid tag.
        guard let aliasText = report.returned("X-Postern-Alias"),
              let aliasAddress = try? EmailAddress(parsing: aliasText),
              let reference = report.returned("X-Postern-Reference"),
              NodeSignature.verify(reference, for: aliasText.lowercased(), purpose: "bounce", secrets: secrets)
        else {
            logger.info("failure report for no alias of ours; dropped", metadata: ["client": "\(client)"])
            return nil
        }
        do {
            guard let alias = try await policy.routing.alias(email: RecipientPolicy.lookupAddress(aliasAddress)) else {
                logger.info("failure report for an alias that is gone; dropped", metadata: ["alias": "\(aliasText)"])
                return nil
            }
            let now = Date()
            for recipient in report.failed.prefix(10) {
                let recipientID = try await policy.routing.recipientID(userID: alias.userID, email: recipient.address)
                let record = FailedDelivery(
                    id: Identifier.make(), userID: alias.userID, recipientID: recipientID, recipientEmail: recipient.address,
                    aliasID: alias.aliasID, aliasEmail: alias.email, bounceType: recipient.bounceType.rawValue,
                    remoteMTA: (recipient.remoteMTA ?? report.reportingMTA).map { String($0.prefix(255)) },
                    sender: routes.first?.bounceFor.map { String($0.prefix(254)) }, emailType: "F",
                    status: String(recipient.status.prefix(16)), code: recipient.diagnostic.map { String($0.prefix(2000)) },
                    attemptedAt: now, createdAt: now, updatedAt: now)
                try await failures.record(record)
                metrics.failed()
                logger.info("bounce recorded", metadata: [
                    "alias": "\(alias.email)", "to": "\(recipient.address)", "status": "\(recipient.status)",
                    "type": "\(recipient.bounceType.rawValue)",
                ])
            }
            return nil
        } catch {
            logger.warning("could not record a bounce", metadata: ["error": "\(error)"])
            return SMTPReply(451, "4.3.0", "Error: cannot record this report now, try again later")
        }
    }

    /// Mail to a bounce address that is no report: an out-of-office reply or a challenge from the mailbox
    /// a message was forwarded to. It goes to that mailbox's owner (their default recipient), never on
    /// to the original sender, who would learn the real address from it.
    func passOnAutoReply(_ message: [UInt8], client: String) async -> SMTPReply? {
        let author = HeaderField.split(message).fields.first { $0.isNamed("From") }
            .flatMap { AddressList(parsing: $0.value).mailboxes.first }
        guard let author, let sender = noticeSender else {
            logger.info("mail to a bounce address from no known mailbox; dropped", metadata: ["client": "\(client)"])
            return nil
        }
        do {
            guard let mailbox = try await policy.routing.ownerMailbox(ofRecipient: author.address.description),
                  let to = try? EmailAddress(parsing: mailbox)
            else {
                logger.info("mail to a bounce address from no known mailbox; dropped",
                            metadata: ["client": "\(client)", "from": "\(author.address)"])
                return nil
            }
            try await queue.submit(message, from: sender, to: to, what: "auto-reply from \(author.address)")
            return nil
        } catch {
            logger.warning("could not pass on an auto-reply", metadata: ["error": "\(error)"])
            return SMTPReply(451, "4.3.0", "Error: cannot take this message now, try again later")
        }
    }
}
