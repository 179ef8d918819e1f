import Directory
import Foundation
import MailAuth
import MailCore
import SMTPCore
import Spool

/// Mail to reverse aliases (SPEC §5). It leaves through the alias only when its author is one of the
/// alias owner's mailboxes that may reply and send, and the author's domain vouches for it (DMARC).
/// Otherwise anyone could write `From: owner's address` and send mail as the alias, or learn nothing
/// more than the alias's address and have Postern mail `victim@…` for them.
///
/// - From one of the owner's sending mailboxes, authenticated: rewritten (`ReplyMessage`), DKIM-signed
///   for the alias domain and sent from the alias to the address the reverse alias stands for.
/// - From one of the owner's mailboxes that fails authentication, or may not send: not sent; a
///   failed delivery is recorded and the owner told.
/// - From anyone else: forwarded to the alias's mailboxes like mail to the alias.
extension InboundMail {
    /// What became of the reverse-alias routes of one message.
    struct ReplyOutcome {
        /// Routes whose mail is forwarded to the alias's mailboxes instead.
        var forwards: [RecipientRoute] = []
        /// Queue ids of replies stored.
        var stored: [String] = []
    }

    /// Handles `routes` (all with `replyTo`) of a message as received (without Postern's trace line).
    /// Throws an SMTP reply when the message must be tried again later.
    func handleReplies(_ routes: [RecipientRoute], envelope: InboundSession.Envelope, message: [UInt8],
                       authentication: MessageAuthentication?, client: String) async throws(ReplyRefusal) -> ReplyOutcome {
        var outcome = ReplyOutcome()
        let byAlias = Dictionary(grouping: routes, by: \.aliasID)
        for (_, aliasRoutes) in byAlias.sorted(by: { $0.key < $1.key }) {
            let route = aliasRoutes[0]
            let mailboxes: [(email: String, maySend: Bool)]
            do {
                mailboxes = try await policy.routing.mailboxes(ofUser: route.userID)
            } catch {
                logger.warning("could not look up the alias owner's mailboxes", metadata: ["error": "\(error)"])
                throw ReplyRefusal(SMTPReply(451, "4.3.0", "Error: cannot take this message now, try again later"))
            }
            let author = authentication?.author ?? Self.author(of: message)
            guard let author, let own = mailboxes.first(where: { $0.email.lowercased() == author.description.lowercased() }) else {
                outcome.forwards += aliasRoutes.map { var forward = $0; forward.replyTo = nil; return forward }
                continue
            }
            let destinations = aliasRoutes.compactMap(\.replyTo)
            guard own.maySend else {
                await refuseReply(route, to: destinations, author: author, problem: "the mailbox \(author) may not reply or send from aliases")
                continue
            }
            guard let authentication, authentication.authorAuthenticated else {
                if authentication?.undecided == true {
                    throw ReplyRefusal(SMTPReply(451, "4.7.0", "Cannot check the sender's authentication now, try again later"))
                }
                await refuseReply(route, to: destinations, author: author,
                                  problem: "the message does not pass DMARC for \(author.domain): it may not come from \(author)")
                continue
            }
            do {
                outcome.stored.append(try await sendReply(route, to: destinations, envelope: envelope, message: message,
                                                          hidden: mailboxes.compactMap { try? EmailAddress(parsing: $0.email) }))
            } catch {
                logger.error("could not store a reply", metadata: ["error": "\(error)"])
                throw ReplyRefusal(SMTPReply(451, "4.3.0", "Error: queue file write error, try again later"))
            }
        }
        return outcome
    }

    struct ReplyRefusal: Error {
        var reply: SMTPReply
        init(_ reply: SMTPReply) { self.reply = reply }
    }

    static func author(of message: [UInt8]) -> EmailAddress? {
        let froms = HeaderField.split(message).fields.filter { $0.isNamed("From") }
        let mailboxes = froms.count == 1 ? AddressList(parsing: froms[0].value).mailboxes : []
        return mailboxes.count == 1 ? mailboxes[0].address : nil
    }

    /// Rewrites, stores and queues a reply; returns its queue id.
    private func sendReply(_ route: RecipientRoute, to destinations: [String], envelope: InboundSession.Envelope,
                           message: [UInt8], hidden: [EmailAddress]) async throws -> String {
        let alias = try EmailAddress(parsing: route.alias)
        let body = ReplyMessage.rewrite(message, alias: alias, displayName: route.fromName, hiddenAddresses: hidden,
                                        messageID: "<\(UUID().uuidString.lowercased())@\(alias.domain)>")
        let reply = SpooledMessage(
            id: QueueID.make(), receivedAt: Date(), clientAddress: "reply", heloName: hostname, sender: alias.description,
            smtpUTF8: envelope.smtpUTF8,
            deliveries: Array(Set(destinations)).sorted().map {
                .init(recipient: $0, alias: alias.description, aliasID: route.aliasID, userID: route.userID, recipientID: nil,
                      reply: true)
            })
        try await spool.store(reply, body: body)
        let isReply = HeaderField.split(message).fields.contains { $0.isNamed("In-Reply-To") || $0.isNamed("References") }
        do {
            try await policy.routing.countSent(aliasID: route.aliasID, reply: isReply)
        } catch {
            logger.warning("could not count a reply", metadata: ["error": "\(error)"])
        }
        metrics.accepted()
        logger.info("reply accepted", metadata: [
            "queue_id": "\(reply.id)", "alias": "\(alias)", "to": "\(destinations.joined(separator: ","))",
            "kind": "\(isReply ? "reply" : "send")", "size": "\(body.count)",
        ])
        await queue.enqueue(reply, body: body)
        return reply.id.text
    }

    /// A reply that may not leave: recorded as a failed delivery, and the owner told.
    private func refuseReply(_ route: RecipientRoute, to destinations: [String], author: EmailAddress, problem: String) async {
        metrics.rejected(.unauthenticated_reply)
        logger.info("reply not sent", metadata: [
            "alias": "\(route.alias)", "from": "\(author)", "to": "\(destinations.joined(separator: ","))", "problem": "\(problem)",
        ])
        let now = Date()
        for destination in destinations.prefix(10) {
            let record = FailedDelivery(
                id: Identifier.make(), userID: route.userID, recipientID: nil, recipientEmail: String(destination.prefix(254)),
                aliasID: route.aliasID, aliasEmail: route.alias, bounceType: "hard", remoteMTA: hostname,
                sender: String(author.description.prefix(254)), emailType: "R", status: "5.7.26",
                code: "Not sent: \(problem)", attemptedAt: now, createdAt: now, updatedAt: now)
            do {
                try await failures.record(record)
                await queue.tellOwner(of: record, refusedReply: true)
            } catch {
                logger.warning("could not record a refused reply", metadata: ["error": "\(error)"])
            }
        }
    }
}
