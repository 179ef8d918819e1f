import MailCore
import SMTPCore
import Testing

/// Runs client input through the framer and the session the way the channel handler will, answering
/// lookups with `policy` and stores with `store`, and returns what the server sent and stored.
struct SessionHarness {
    var session: SMTPServerSession<String>
    var framer = SMTPInputFramer()
    var sent: [SMTPReply] = []
    var stored: [(SMTPServerSession<String>.Envelope, String)] = []
    var closed = false
    var tlsStarted = false
    var policy: (EmailAddress) -> SMTPServerSession<String>.RecipientDecision = { .accept($0.description) }
    var store: () -> String? = { "Q1" }

    init(tls: Bool = false, maxRecipients: Int = 100, maxErrors: Int = 10, maxMessageSize: Int = 10_000, draining: Bool = false) {
        session = SMTPServerSession<String>(configuration: .init(
            hostname: "mx.relay.test", maxMessageSize: maxMessageSize, maxRecipients: maxRecipients,
            maxErrors: maxErrors, tlsAvailable: tls))
        perform(session.start(draining: draining))
    }

    mutating func perform(_ actions: [SMTPServerSession<String>.Action]) {
        for action in actions {
            switch action {
            case .send(let reply): sent.append(reply)
            case .checkRecipient(let address, _): perform(session.recipientChecked(policy(address)))
            case .beginMessage(let size): framer.beginMessage(maxSize: size)
            case .store(let envelope, let body):
                if let id = store() {
                    stored.append((envelope, String(decoding: body, as: UTF8.self)))
                    perform(session.messageStored(queueID: id))
                } else {
                    perform(session.messageFailed(.databaseUnavailable))
                }
            case .startTLS:
                tlsStarted = true
                framer.discardBufferedInput()
            case .close: closed = true
            }
        }
    }

    mutating func send(_ text: String) {
        framer.feed(Array(text.utf8))
        while !closed, let event = framer.next() { perform(session.handle(event)) }
    }

    var codes: [Int] { sent.map(\.code) }
}

@Suite struct SMTPServerSessionTests {
    @Test func aWholeTransactionPipelined() throws {
        var h = SessionHarness()
        h.send("EHLO client.example\r\nMAIL FROM:<bob@example.com> SIZE=100\r\nRCPT TO:<alias@relay.test>\r\nRCPT TO:<other@relay.test>\r\nDATA\r\n")
        h.send("Subject: hi\r\n\r\nhello\r\n.\r\nQUIT\r\n")
        #expect(h.codes == [220, 250, 250, 250, 250, 354, 250, 221])
        #expect(h.sent[1].lines.contains("PIPELINING") && h.sent[1].lines.contains("SIZE 10000") && !h.sent[1].lines.contains("STARTTLS"))
        #expect(h.sent[6].lines == ["Ok: queued as Q1"])
        let (envelope, body) = try #require(h.stored.first)
        #expect(envelope.sender == (try EmailAddress(parsing: "bob@example.com")))
        #expect(envelope.recipients.map(\.description) == ["alias@relay.test", "other@relay.test"])
        #expect(envelope.heloName == "client.example")
        #expect(body == "Subject: hi\r\n\r\nhello\r\n")
        #expect(h.closed)
    }

    @Test func recipientPolicyDecidesEachRCPT() {
        var h = SessionHarness()
        h.policy = { address in
            switch address.localPart {
            case "unknown": .reject(.unknownUser)
            case "foreign": .reject(.relayDenied)
            case "off": .acceptAndDiscard
            case "db": .reject(.databaseUnavailable)
            default: .accept(address.description)
            }
        }
        h.send("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<unknown@relay.test>\r\nRCPT TO:<foreign@else.example>\r\nRCPT TO:<db@relay.test>\r\nRCPT TO:<off@relay.test>\r\nRCPT TO:<alias@relay.test>\r\nDATA\r\nx\r\n.\r\n")
        #expect(h.codes == [220, 250, 250, 550, 554, 451, 250, 250, 354, 250])
        #expect(h.stored.count == 1)
        #expect(h.stored.first?.0.sender == nil, "the null sender")
        #expect(h.stored.first?.0.recipients.map(\.localPart) == ["alias"])
        #expect(h.stored.first?.0.routes == ["alias@relay.test"], "each accepted recipient keeps its route")
    }

    @Test func onlyDiscardedRecipientsMeansAcceptedAndDropped() {
        var h = SessionHarness()
        h.policy = { _ in .acceptAndDiscard }
        h.send("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<off@relay.test>\r\nDATA\r\nx\r\n.\r\n")
        #expect(h.codes == [220, 250, 250, 250, 354, 250])
        #expect(h.stored.isEmpty)
    }

    @Test func commandsOutOfOrder() {
        var h = SessionHarness()
        h.send("MAIL FROM:<a@b.example>\r\nHELO c\r\nRCPT TO:<x@relay.test>\r\nDATA\r\nMAIL FROM:<a@b.example>\r\nMAIL FROM:<a@b.example>\r\nDATA\r\n")
        #expect(h.codes == [220, 503, 250, 503, 503, 250, 503, 554])
        #expect(h.sent[1].lines == ["Error: send HELO/EHLO first"])
    }

    @Test func resetAndHarmlessCommands() {
        var h = SessionHarness()
        h.send("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRSET\r\nRCPT TO:<x@relay.test>\r\nNOOP\r\nVRFY root\r\nHELP\r\n")
        #expect(h.codes == [220, 250, 250, 250, 503, 250, 252, 214])
    }

    @Test func sizeAndSyntaxRefusals() {
        var h = SessionHarness(maxMessageSize: 1000)
        h.send("EHLO c\r\nMAIL FROM:<a@b.example> SIZE=1001\r\nMAIL FROM:<not-an-address>\r\nMAIL FROM:<jörg@b.example>\r\nMAIL FROM:<jörg@b.example> SMTPUTF8\r\nRCPT TO:<bad address@x>\r\nRCPT TO:<ünï@relay.test>\r\nXYZZY\r\n")
        #expect(h.codes == [220, 250, 552, 501, 553, 250, 501, 250, 500])
        #expect(h.sent[2].enhanced == "5.3.4")
    }

    @Test func aMessageWithBareLineEndingsOrTooBigIsRefusedAndTheSessionGoesOn() {
        var h = SessionHarness(maxMessageSize: 50)
        h.send("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@relay.test>\r\nDATA\r\nbody\n.\nMAIL FROM:<evil@x.example>\r\n.\r\n")
        h.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<x@relay.test>\r\nDATA\r\n" + String(repeating: "y", count: 60) + "\r\n.\r\n")
        h.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<x@relay.test>\r\nDATA\r\nsmall\r\n.\r\n")
        #expect(h.codes == [220, 250, 250, 250, 354, 550, 250, 250, 354, 552, 250, 250, 354, 250])
        #expect(h.stored.map(\.1) == ["small\r\n"])
    }

    @Test func aFailedStoreIsATemporaryFailureAndNothingIsClaimed() {
        var h = SessionHarness()
        h.store = { nil }
        h.send("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@relay.test>\r\nDATA\r\nx\r\n.\r\n")
        #expect(h.codes == [220, 250, 250, 250, 354, 451])
    }

    @Test func tooManyRecipients() {
        var h = SessionHarness(maxRecipients: 2)
        h.send("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@relay.test>\r\nRCPT TO:<y@relay.test>\r\nRCPT TO:<z@relay.test>\r\n")
        #expect(h.codes == [220, 250, 250, 250, 250, 452])
    }

    @Test func tooManyErrorsCloseTheSession() {
        var h = SessionHarness(maxErrors: 3)
        h.send("BAD1\r\nBAD2\r\nBAD3\r\nNOOP\r\n")
        #expect(h.codes == [220, 500, 500, 500, 421])
        #expect(h.closed)
    }

    @Test func aDrainingNodeSays421AtConnect() {
        let h = SessionHarness(draining: true)
        #expect(h.codes == [421])
        #expect(h.sent.first?.enhanced == "4.3.2")
        #expect(h.closed)
    }

    @Test func startTLSDiscardsPipelinedInputAndNeedsEHLOAgain() {
        var h = SessionHarness(tls: true)
        h.send("EHLO c\r\n")
        #expect(h.sent.last?.lines.contains("STARTTLS") == true)
        h.send("STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\n")
        #expect(h.codes == [220, 250, 220])
        #expect(h.tlsStarted)
        h.send("MAIL FROM:<a@b.example>\r\nEHLO c\r\nSTARTTLS\r\n")
        #expect(h.codes == [220, 250, 220, 503, 250, 502])
        #expect(h.sent[4].lines.contains("STARTTLS") == false, "not offered again inside TLS")
        var plain = SessionHarness()
        plain.send("EHLO c\r\nSTARTTLS\r\n")
        #expect(plain.codes == [220, 250, 502])
    }
}
