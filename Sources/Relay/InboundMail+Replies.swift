import Directory
import Foundation
import MailAuth
import MailCore
import SMTPCore
import Spool

/// Mail to reverse aliases (SPEC §5). It leaves through the alias only when its author is one of the
/// alias owner's verified mailboxes that may reply and send, and the author's domain vouches for it
/// (DMARC, and a signature or SPF that covers this very message). Otherwise anyone could write
/// `From: owner's address` and send mail as the alias, or have Postern mail `victim@…` for them.
///
/// - From one of the owner's sending mailboxes, authenticated: rewritten (`ReplyMessage`), DKIM-signed
///   for the alias domain and sent from the alias to the address the reverse alias stands for.
/// - From one of the owner's verified mailboxes that fails authentication, or may not send: not sent;
///   a failed delivery is recorded and the owner told.
/// - From anyone else: forwarded to the alias's mailboxes like mail to the alias.
///
/// Everything is decided (`planReplies`) before anything is stored (`carryOut`), so a temporary
/// answer for one part of a message never leaves another part sent twice.
extension InboundMail {
    struct ReplyPlan {
        struct Send {
            var route: RecipientRoute
            var destinations: [String]
            /// The owner's mailboxes, which must not appear in what is sent.
            var hidden: [EmailAddress]
        }

        struct Refusal {
            var route: RecipientRoute
            var destinations: [String]
            var author: EmailAddress
            var problem: String
        }

        /// Routes whose mail is forwarded to the alias's mailboxes instead.
        var forwards: [RecipientRoute] = []
        var sends: [Send] = []
        var refusals: [Refusal] = []
    }

    struct ReplyRefusal: Error {
        var reply: SMTPReply
        init(_ reply: SMTPReply) { self.reply = reply }
    }

    /// Decides what becomes of `routes` (all with a `reverseAlias`) of a message as received (without
    /// Postern's trace line). Throws the reply to give when it must be tried again later.
    func planReplies(_ routes: [RecipientRoute], message: [UInt8], authentication: MessageAuthentication?)
        async throws(ReplyRefusal) -> ReplyPlan
    {
        var plan = ReplyPlan()
        let author = authentication?.author ?? MessageAuthentication.singleAuthor(of: message)
        for (_, aliasRoutes) in Dictionary(grouping: routes, by: \.aliasID).sorted(by: { $0.key < $1.key }) {
            let route = aliasRoutes[0]
            let mailboxes: [(email: String, maySend: Bool)]
            do {
                mailboxes = try await policy.routing.mailboxes(ofUser: route.userID)
            } catch {
                logger.warning("could not look up the alias owner's mailboxes", metadata: ["error": "\(error)"])
                throw ReplyRefusal(SMTPReply(451, "4.3.0", "Error: cannot take this message now, try again later"))
            }
            // Letters are compared in ASCII only: Unicode case folding would let `K` (Kelvin) stand for `k`.
            guard let author, let own = mailboxes.first(where: { Self.asciiLowercased($0.email) == Self.asciiLowercased(author.description) })
            else {
                plan.forwards += aliasRoutes.map { var forward = $0; forward.reverseAlias = nil; return forward }
                continue
            }
            let destinations = Array(Set(aliasRoutes.compactMap { $0.reverseAlias?.destination.description })).sorted()
            guard own.maySend else {
                plan.refusals.append(.init(route: route, destinations: destinations, author: author,
                                           problem: "the mailbox \(author) may not reply or send from aliases"))
                continue
            }
            let vouched = authentication.map { auth in aliasRoutes.allSatisfy { auth.vouches(for: $0.reverseAlias?.description ?? "", in: message) } } ?? false
            guard vouched else {
                if authentication?.undecided == true {
                    throw ReplyRefusal(SMTPReply(451, "4.7.0", "Cannot check the sender's authentication now, try again later"))
                }
                let problem = authentication?.authorAuthenticated == true
                    ? "the message's DKIM signature does not cover the reverse alias it was sent to (a replayed message?)"
                    : "the message does not pass DMARC for \(author.domain): it may not come from \(author)"
                plan.refusals.append(.init(route: route, destinations: destinations, author: author, problem: problem))
                continue
            }
            plan.sends.append(.init(route: route, destinations: destinations,
                                    hidden: mailboxes.compactMap { try? EmailAddress(parsing: $0.email) }))
        }
        return plan
    }

    /// Stores the replies of `plan` and records its refusals; returns the queue ids stored.
    func carryOut(_ plan: ReplyPlan, envelope: InboundSession.Envelope, message: [UInt8]) async throws(ReplyRefusal) -> [String] {
        var stored: [String] = []
        for send in plan.sends {
            do {
                stored.append(try await sendReply(send, envelope: envelope, message: message))
            } catch {
                logger.error("could not store a reply", metadata: ["error": "\(error)"])
                throw ReplyRefusal(SMTPReply(451, "4.3.0", "Error: queue file write error, try again later"))
            }
        }
        for refusal in plan.refusals {
            do {
                try await refuseReply(refusal)
            } catch {
                logger.warning("could not record a refused reply", metadata: ["error": "\(error)"])
                throw ReplyRefusal(SMTPReply(451, "4.3.0", "Error: cannot take this message now, try again later"))
            }
        }
        return stored
    }

    static func asciiLowercased(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { ("A"..."Z").contains($0) ? Unicode.Scalar($0.value + 32)! : $0 }))
    }

    /// Rewrites, stores and queues a reply; returns its queue id.
    private func sendReply(_ send: ReplyPlan.Send, envelope: InboundSession.Envelope, message: [UInt8]) async throws -> String {
        let route = send.route
        let alias = try EmailAddress(parsing: route.alias)
        let id = QueueID.make()
        let now = Date()
        // A trace line that names only this node: loops through reverse aliases are still counted.
        let trace = Array("Received: by \(hostname) (Postern) with ESMTP id \(id.text);\r\n\t\(TraceHeader.rfc5322Date(now))\r\n".utf8)
        let body = trace + ReplyMessage.rewrite(message, alias: alias, displayName: route.fromName, hiddenAddresses: send.hidden,
                                                messageID: "<\(UUID().uuidString.lowercased())@\(alias.domain)>", date: now)
        let reply = SpooledMessage(
            id: id, receivedAt: now, clientAddress: "reply", heloName: hostname, sender: alias.description,
            smtpUTF8: envelope.smtpUTF8,
            deliveries: send.destinations.map {
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
            "queue_id": "\(reply.id)", "alias": "\(alias)", "to": "\(send.destinations.joined(separator: ","))",
            "kind": "\(isReply ? "reply" : "send")", "size": "\(body.count)",
        ])
        await queue.enqueue(reply, body: body)
        return reply.id.text
    }

    /// A reply that may not leave: one failed delivery recorded (naming its first destination), and
    /// the owner told.
    private func refuseReply(_ refusal: ReplyPlan.Refusal) async throws {
        metrics.rejected(.unauthenticated_reply)
        let route = refusal.route
        logger.info("reply not sent", metadata: [
            "alias": "\(route.alias)", "from": "\(refusal.author)", "to": "\(refusal.destinations.joined(separator: ","))",
            "problem": "\(refusal.problem)",
        ])
        let now = Date()
        let others = refusal.destinations.count > 1 ? " (and \(refusal.destinations.count - 1) more)" : ""
        let record = FailedDelivery(
            id: Identifier.make(), userID: route.userID, recipientID: nil,
            recipientEmail: String((refusal.destinations.first ?? "").prefix(254)), aliasID: route.aliasID,
            aliasEmail: route.alias, bounceType: "hard", remoteMTA: hostname, sender: String(refusal.author.description.prefix(254)),
            emailType: "R", status: "5.7.26", code: String("Not sent\(others): \(refusal.problem)".prefix(2000)),
            attemptedAt: now, createdAt: now, updatedAt: now)
        try await failures.record(record)
        await queue.tellOwner(of: record, refusedReply: true)
    }
}
