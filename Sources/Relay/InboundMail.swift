import Directory
import Foundation
import Logging
import MailAuth
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
    /// SPF, DKIM and DMARC on received mail; nil: not checked (replies are then never sent).
    let authenticator: MailAuthenticator?
    private let draining = Atomic<Bool>(false)

    public init(policy: RecipientPolicy, spool: Spool, queue: DeliveryQueue, metrics: NodeMetrics, failures: FailedDeliveries,
                noticeSender: EmailAddress? = nil, secrets: [String] = [], hostname: String,
                authenticator: MailAuthenticator? = nil, logger: Logger) {
        self.authenticator = authenticator
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

    public func checkRecipientNow(_ recipient: EmailAddress, envelope: InboundSession.Envelope, client: String)
        -> InboundSession.RecipientDecision?
    {
        guard let (decision, reason) = policy.decideNow(recipient) else { return nil }
        return report(decision, reason: reason, recipient: recipient, envelope: envelope, client: client)
    }

    public func checkRecipient(_ recipient: EmailAddress, envelope: InboundSession.Envelope, client: String) async
        -> InboundSession.RecipientDecision
    {
        let (decision, reason) = await policy.decide(recipient)
        return report(decision, reason: reason, recipient: recipient, envelope: envelope, client: client)
    }

    /// Counts and logs a refusal; returns the decision.
    private func report(_ decision: InboundSession.RecipientDecision, reason: RecipientPolicy.Reason, recipient: EmailAddress,
                        envelope: InboundSession.Envelope, client: String) -> InboundSession.RecipientDecision {
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
        let posternHops = TraceHeader.posternHops(received)
        if posternHops >= TraceHeader.maxPosternHops {
            metrics.rejected(.mail_loop)
            logger.info("rejected", metadata: ["client": "\(client)", "reason": "mail_loop", "postern_hops": "\(posternHops)"])
            return .failure(SMTPReply(554, "5.4.6", "Mail forwarding loop: this message passed through Postern too often"))
        }
        let id = QueueID.make()
        let now = Date()
        let trace = TraceHeader.received(
            helo: envelope.heloName, client: client, host: hostname, tls: envelope.tls, smtpUTF8: envelope.smtpUTF8,
            id: id.text, recipient: envelope.recipients.count == 1 ? envelope.recipients[0].description : nil, at: now)
        let bounces = envelope.routes.filter { $0.bounceFor != nil }
        if !bounces.isEmpty {
            // With the trace line: an auto-reply passed on counts as a pass through Postern.
            if let refusal = await recordBounce(trace + received, to: bounces, envelope: envelope, client: client) {
                return .failure(refusal)
            }
            if bounces.count == envelope.routes.count { return .success("bounce") }
        }
        // Only this node may say what this node found (RFC 8601 §5).
        let message = MessageAuthentication.removingClaims(of: hostname, from: received)
        // Mail that goes nowhere (every recipient deactivated and dropped) is not worth the lookups.
        let goesSomewhere = envelope.routes.contains { $0.bounceFor == nil }
        let authentication = goesSomewhere
            ? await authenticator?.authenticate(message, client: client, helo: envelope.heloName, mailFrom: envelope.sender?.description)
            : nil
        var routes = envelope.routes.filter { $0.bounceFor == nil && $0.reverseAlias == nil }
        // Replies are decided before anything is stored, so a 451 for one of them stores nothing.
        var replies = ReplyPlan()
        let reverseRoutes = envelope.routes.filter { $0.bounceFor == nil && $0.reverseAlias != nil }
        if !reverseRoutes.isEmpty {
            do {
                replies = try await planReplies(reverseRoutes, message: message, authentication: authentication)
            } catch {
                return .failure(error.reply)
            }
            routes += replies.forwards
        }
        var forwardID: String?
        if let deliveries = forwardDeliveries(routes, envelope: envelope, authentication: authentication) {
            let body = (authentication?.field(authservID: hostname) ?? []) + trace + message
            let spooled = SpooledMessage(
                id: id, receivedAt: now, clientAddress: client, heloName: envelope.heloName,
                sender: envelope.sender?.description, smtpUTF8: envelope.smtpUTF8, deliveries: deliveries)
            do {
                try await spool.store(spooled, body: body)
            } catch {
                logger.error("could not store a message", metadata: ["error": "\(error)"])
                return .failure(SMTPReply(451, "4.3.0", "Error: queue file write error, try again later"))
            }
            metrics.accepted()
            logger.info("accepted", metadata: [
                "queue_id": "\(id)", "client": "\(client)", "from": "\(envelope.sender?.description ?? "<>")",
                "to": "\(envelope.recipients.map(\.description).joined(separator: ","))", "size": "\(body.count)",
            ])
            await queue.enqueue(spooled, body: body)
            forwardID = id.text
        }
        // After the forwarded copy: should this fail, a retry duplicates mail to the owner, never a
        // reply to someone else.
        let replyIDs: [String]
        do {
            replyIDs = try await carryOut(replies, envelope: envelope, message: message)
        } catch {
            return .failure(error.reply)
        }
        if forwardID == nil && replyIDs.isEmpty {
            // Every recipient was dropped (a deactivated alias, mail from the alias's own mailbox, a
            // refused reply).
            logger.info("accepted and dropped: nothing to forward", metadata: [
                "client": "\(client)", "from": "\(envelope.sender?.description ?? "<>")",
                "to": "\(envelope.recipients.map(\.description).joined(separator: ","))",
            ])
        }
        return .success(forwardID ?? replyIDs.first ?? "dropped")
    }

    /// The copies to forward for `routes`, nil when there are none: one per alias and mailbox, however
    /// often the alias was named, none back to the mailbox the message came from, and the DMARC mark
    /// only where the message failed an enforced policy.
    private func forwardDeliveries(_ routes: [RecipientRoute], envelope: InboundSession.Envelope,
                                   authentication: MessageAuthentication?) -> [SpooledMessage.Delivery]? {
        var deliveries: [SpooledMessage.Delivery] = []
        var planned = Set<[String]>()
        let sender = envelope.sender?.description.lowercased()
        let failedDMARC = authentication?.dmarc.failsWithEnforcement ?? false
        for route in routes {
            var style = route.style
            if !failedDMARC { style.dmarcWarning = nil }
            for destination in route.destinations where destination.email.lowercased() != sender
                && planned.insert([route.aliasID, destination.recipientID]).inserted {
                deliveries.append(.init(recipient: destination.email, alias: route.alias, aliasID: route.aliasID,
                                        userID: route.userID, recipientID: destination.recipientID, style: style,
                                        encryption: destination.encryption))
            }
        }
        return deliveries.isEmpty ? nil : deliveries
    }

    /// A message to a bounce address: a delivery report becomes failed deliveries for the alias owner;
    /// nothing goes back to the original sender, which would reveal the real mailbox. Returns the reply
    /// to give instead of 250 when the report cannot be recorded now.
    ///
    /// The alias is believed when the returned header names it with a valid `X-Postern-Reference`, a
    /// tag bound to this bounce address (so it expires with it). Without one, a failed recipient that
    /// is the verified mailbox of exactly one user makes the record that user's, with no alias.
    func recordBounce(_ message: [UInt8], to routes: [RecipientRoute], envelope: InboundSession.Envelope, client: String) async
        -> SMTPReply?
    {
        guard let report = DeliveryReport(message) else { return await passOnAutoReply(message, envelope: envelope, client: client) }
        guard !report.failed.isEmpty else {
            logger.info("delivery report without failures; dropped", metadata: ["client": "\(client)"])
            return nil
        }
        let bounceAddress = routes.first?.alias.lowercased() ?? ""
        do {
            var alias: AliasRouting?
            if let aliasText = report.returned("X-Postern-Alias"), let reference = report.returned("X-Postern-Reference"),
               NodeSignature.verify(reference, for: NodeSignature.bounceValue(alias: aliasText, bounceAddress: bounceAddress),
                                    purpose: "bounce", secrets: secrets),
               let address = try? EmailAddress(parsing: aliasText) {
                alias = try await policy.routing.alias(email: RecipientPolicy.lookupAddress(address))
            }
            let now = Date()
            var recorded = 0
            for recipient in report.failed.prefix(10) {
                var owner = alias?.userID
                if owner == nil { owner = try await policy.routing.ownerUserID(ofRecipient: recipient.address) }
                guard let userID = owner else { continue }
                let recipientID = try await policy.routing.recipientID(userID: userID, email: recipient.address)
                let record = FailedDelivery(
                    id: Identifier.make(), userID: userID, recipientID: recipientID, recipientEmail: recipient.address,
                    aliasID: alias?.aliasID, aliasEmail: alias?.email, bounceType: recipient.bounceType.rawValue,
                    remoteMTA: (recipient.remoteMTA ?? report.reportingMTA).map { String($0.prefix(255)) },
                    sender: routes.first?.bounceFor.map { String($0.prefix(254)) }, emailType: "F",
                    status: String(recipient.status.prefix(16)), code: recipient.diagnostic.map { String($0.prefix(2000)) },
                    attemptedAt: now, createdAt: now, updatedAt: now)
                try await failures.record(record)
                metrics.failed()
                recorded += 1
                logger.info("bounce recorded", metadata: [
                    "alias": "\(alias?.email ?? "unknown")", "to": "\(recipient.address)", "status": "\(recipient.status)",
                    "type": "\(recipient.bounceType.rawValue)",
                ])
            }
            if recorded == 0 { logger.info("failure report for no alias or mailbox of ours; dropped", metadata: ["client": "\(client)"]) }
            return nil
        } catch {
            logger.warning("could not record a bounce", metadata: ["error": "\(error)"])
            return SMTPReply(451, "4.3.0", "Error: cannot record this report now, try again later")
        }
    }

    /// Auto-replies passed on per owner mailbox and hour, at most (per node).
    static let autoRepliesPerHour = 10
    private let passedOn = Mutex<[String: (hour: Date, count: Int)]>([:])

    /// Mail to a bounce address that is no report: an out-of-office reply or a challenge from the mailbox
    /// a message was forwarded to. It goes to that mailbox's owner (their default recipient), never on
    /// to the original sender, who would learn the real address from it. Only what says it is an
    /// automatic reply (RFC 3834 `Auto-Submitted`, or the common `X-Autoreply`) is passed on, ten an
    /// hour per owner at most, and only when its author's domain vouches for it (DMARC); the rest is
    /// dropped.
    func passOnAutoReply(_ message: [UInt8], envelope: InboundSession.Envelope, client: String) async -> SMTPReply? {
        let fields = HeaderField.split(message).fields
        let automatic = fields.contains { field in
            (field.isNamed("Auto-Submitted") && !field.value.lowercased().hasPrefix("no"))
                || field.isNamed("X-Autoreply") || field.isNamed("X-Autorespond")
        }
        let author = fields.first { $0.isNamed("From") }.flatMap { AddressList(parsing: $0.value).mailboxes.first }
        guard automatic, let author, let sender = noticeSender else {
            logger.info("mail to a bounce address that is no automatic reply; dropped", metadata: ["client": "\(client)"])
            return nil
        }
        // Its author's domain must vouch for it (as for replies): a made-up "auto-reply" from a
        // mailbox must not reach that mailbox's owner.
        if let authenticator {
            let authentication = await authenticator.authenticate(
                message, client: client, helo: envelope.heloName, mailFrom: envelope.sender?.description)
            guard authentication.authorAuthenticated, authentication.author == author.address else {
                logger.info("automatic reply whose author is not authenticated; dropped",
                            metadata: ["client": "\(client)", "from": "\(author.address)", "dmarc": "\(authentication.dmarc.result.rawValue)"])
                return nil
            }
        }
        do {
            guard let (mailbox, recipientID) = try await policy.routing.ownerMailbox(ofRecipient: author.address.description),
                  let to = try? EmailAddress(parsing: mailbox)
            else {
                logger.info("mail to a bounce address from no known mailbox; dropped",
                            metadata: ["client": "\(client)", "from": "\(author.address)"])
                return nil
            }
            let hour = MailRouting.hour(of: Date())
            let allowed = passedOn.withLock { counts -> Bool in
                var entry = counts[mailbox] ?? (hour, 0)
                if entry.hour != hour { entry = (hour, 0) }
                entry.count += 1
                counts[mailbox] = entry
                return entry.count <= Self.autoRepliesPerHour
            }
            guard allowed else {
                logger.info("too many auto-replies this hour; dropped", metadata: ["to": "\(mailbox)"])
                return nil
            }
            // Someone else's words, often quoting the owner's: encrypted if the mailbox wants that.
            let encryption = try await policy.routing.encryption(ofRecipient: recipientID)
            try await queue.submit(message, from: sender, to: to, what: "auto-reply from \(author.address)",
                                   recipientID: recipientID, encryption: encryption)
            return nil
        } catch {
            logger.warning("could not pass on an auto-reply", metadata: ["error": "\(error)"])
            return SMTPReply(451, "4.3.0", "Error: cannot take this message now, try again later")
        }
    }
}
