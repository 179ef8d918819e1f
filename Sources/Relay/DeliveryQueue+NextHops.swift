import SMTPClient
import SMTPCore

/// The way to a next hop: its hosts in order, pooled connections, a host that refuses skipped for the
/// next, and opportunistic TLS with a clear-text second try.
extension DeliveryQueue {
    /// Hands one copy per recipient to the first next hop of `domain` that takes the connection.
    /// Returns each recipient's outcome and the hop it was decided at. Runs beside other deliveries, off the
    /// queue's actor.
    nonisolated func deliver(_ recipients: [String], domain: String, sender: String, body: [UInt8], needsUTF8: Bool) async
        -> [(SMTPClientTransaction.Outcome, String)]
    {
        let transaction = SMTPClientTransaction(sender: sender, recipients: recipients, body: body, needsSMTPUTF8: needsUTF8)
        let hops: [NextHop]
        do {
            hops = try await resolver.hops(for: domain)
        } catch let failure as NextHopFailure {
            let reply: SMTPReply
            switch failure {
            case .permanent(let text): reply = SMTPReply(550, "5.1.2", "Cannot find a mail server for \(domain): \(text)")
            case .temporary(let text): reply = SMTPReply(451, "4.4.3", "Cannot look up the mail server of \(domain): \(text)")
            }
            return recipients.map { _ in (reply.isPermanentFailure ? .failed(reply) : .deferred(reply), "dns") }
        } catch {
            return recipients.map { _ in (.deferred(SMTPReply(451, "4.4.3", "DNS lookup failed")), "dns") }
        }
        // Like Postfix (smtp_skip_5xx_greeting): a host that refuses the session is skipped for the
        // next one. Only when every host refused for good is the refusal permanent.
        var lastProblem = SMTPReply(451, "4.4.1", "No next hop answered")
        var lastHop = "none"
        var everyHostRefusedForGood = !hops.isEmpty
        for hop in hops {
            lastHop = hop.description
            let connection: SMTPClientConnection
            if let idle = await connections.take(hop.description) {
                connection = idle
            } else {
                do {
                    connection = try await open(hop)
                } catch let refused as SMTPClientConnection.Refused {
                    lastProblem = refused.reply
                    everyHostRefusedForGood = everyHostRefusedForGood && refused.reply.isPermanentFailure
                    continue
                } catch {
                    lastProblem = SMTPReply(451, "4.4.1", "Connection to \(hop) failed")
                    everyHostRefusedForGood = false
                    continue
                }
            }
            let outcomes = await connection.send(transaction)
            await connections.put(connection)
            return outcomes.map { ($0, hop.description) }
        }
        if everyHostRefusedForGood { return recipients.map { _ in (.failed(lastProblem), lastHop) } }
        return recipients.map { _ in (.deferred(lastProblem), lastHop) }
    }

    /// A new connection to `hop`; when the TLS handshake after STARTTLS fails, a second one in clear
    /// text (opportunistic TLS, as Postfix's `may` level does).
    nonisolated func open(_ hop: NextHop) async throws -> SMTPClientConnection {
        do {
            return try await SMTPClientConnection.open(host: hop.host, port: hop.port, heloName: settings.heloName,
                                                       tls: settings.tls, timeout: settings.timeout)
        } catch SMTPClientError.tlsFailed(let problem) {
            logger.info("TLS failed; trying again without", metadata: ["relay": "\(hop)", "problem": "\(problem)"])
            return try await SMTPClientConnection.open(host: hop.host, port: hop.port, heloName: settings.heloName,
                                                       tls: nil, timeout: settings.timeout)
        }
    }
}
