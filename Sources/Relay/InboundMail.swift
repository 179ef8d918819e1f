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
    let logger: Logger
    /// The name this node gives in its Received lines.
    let hostname: String
    private let draining = Atomic<Bool>(false)

    public init(policy: RecipientPolicy, spool: Spool, queue: DeliveryQueue, metrics: NodeMetrics, hostname: String,
                logger: Logger) {
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
        if reason != .accepted {
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
        let id = QueueID.make()
        let now = Date()
        let body = TraceHeader.received(
            helo: envelope.heloName, client: client, host: hostname, tls: envelope.tls, smtpUTF8: envelope.smtpUTF8,
            id: id.text, recipient: envelope.recipients.count == 1 ? envelope.recipients[0].description : nil, at: now)
            + received
        var deliveries: [SpooledMessage.Delivery] = []
        var planned = Set<[String]>()  // one copy per alias and mailbox, however often the alias was named
        for route in envelope.routes {
            for destination in route.destinations where planned.insert([route.aliasID, destination.recipientID]).inserted {
                deliveries.append(.init(recipient: destination.email, alias: route.alias, aliasID: route.aliasID,
                                        userID: route.userID, recipientID: destination.recipientID, style: route.style))
            }
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
}
