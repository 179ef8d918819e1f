import MailCore

/// The server side of one SMTP session (RFC 5321) as a state machine without I/O.
///
/// The channel handler feeds it framer events and the answers to what it asked (a recipient lookup,
/// storing a message), and carries out the actions it returns, in order. While a lookup or a store is
/// outstanding the handler feeds nothing else, so replies to pipelined commands keep their order.
///
/// `Route` is what the recipient policy learned about an accepted recipient (where its mail goes); the
/// session only carries it from RCPT to the envelope it hands over for storing.
public struct SMTPServerSession<Route: Sendable & Equatable>: Sendable {
    public struct Configuration: Sendable {
        public var hostname: String
        public var maxMessageSize: Int
        public var maxRecipients: Int
        public var maxErrors: Int
        public var tlsAvailable: Bool

        public init(hostname: String, maxMessageSize: Int, maxRecipients: Int = 100, maxErrors: Int = 10,
                    tlsAvailable: Bool = false) {
            self.hostname = hostname
            self.maxMessageSize = maxMessageSize
            self.maxRecipients = maxRecipients
            self.maxErrors = maxErrors
            self.tlsAvailable = tlsAvailable
        }
    }

    /// Who a message is from and for, as the client gave it.
    public struct Envelope: Sendable, Equatable {
        public var heloName: String
        /// nil for the null sender `<>` (bounces).
        public var sender: EmailAddress?
        public var recipients: [EmailAddress] = []
        /// What the policy said about each of `recipients`, in the same order.
        public var routes: [Route] = []
        public var smtpUTF8 = false
        public var body8BitMIME = false
        /// The session was under TLS when the transaction began.
        public var tls = false
    }

    public enum RecipientDecision: Sendable, Equatable {
        case accept(Route)
        /// Accept, then drop the message for this recipient (a deactivated alias, counted as blocked).
        case acceptAndDiscard
        case reject(SMTPReply)
    }

    public enum Action: Sendable, Equatable {
        case send(SMTPReply)
        /// Look the recipient up and answer with `recipientChecked`.
        case checkRecipient(EmailAddress, Envelope)
        /// Tell the framer to read a message (the 354 has been sent just before).
        case beginMessage(maxSize: Int)
        /// Store the message durably, then answer `messageStored` or `messageFailed`.
        case store(Envelope, [UInt8])
        /// Start TLS now (after sending the 220); input already buffered must be discarded.
        case startTLS
        case close
    }

    private enum Phase: Sendable, Equatable {
        case connected
        case greeted
        case awaitingRecipient(EmailAddress)
        case awaitingStore
        case closed
    }

    public let configuration: Configuration
    private var phase: Phase = .connected
    private var heloName = ""
    private var extended = false
    private var tlsActive = false
    private var transaction: Envelope?
    private var discardedRecipients = 0
    private var errors = 0

    public init(configuration: Configuration) { self.configuration = configuration }

    /// The greeting, or 421 and close for a node that is draining.
    public mutating func start(draining: Bool = false) -> [Action] {
        if draining {
            phase = .closed
            return [.send(.draining), .close]
        }
        return [.send(SMTPReply(220, nil, "\(configuration.hostname) ESMTP Postern"))]
    }

    public mutating func handle(_ event: SMTPInputFramer.Event) -> [Action] {
        switch phase {
        case .closed, .awaitingRecipient, .awaitingStore: return []  // the handler waits for the answer first
        case .connected, .greeted: break
        }
        switch event {
        case .commandTooLong: return fail(.lineTooLong)
        case .commandMalformed: return fail(.badLineEnding)
        case .message(let result): return messageReceived(result)
        case .command(let line):
            do throws(SMTPCommand.ParseError) {
                return execute(try SMTPCommand.parse(line))
            } catch {
                switch error {
                case .unknownCommand: return fail(.syntaxError)
                case .badArguments(let text): return fail(.argumentError(text))
                }
            }
        }
    }

    private mutating func execute(_ command: SMTPCommand) -> [Action] {
        switch command {
        case .helo(let name), .ehlo(let name):
            heloName = name
            if case .ehlo = command { extended = true } else { extended = false }
            resetTransaction()
            phase = .greeted
            return [.send(extended ? ehloReply() : SMTPReply(250, nil, configuration.hostname))]
        case .mail(let path, let parameters):
            guard phase == .greeted else { return fail(SMTPReply(503, "5.5.1", "Error: send HELO/EHLO first")) }
            guard transaction == nil else { return fail(SMTPReply(503, "5.5.1", "Error: nested MAIL command")) }
            if let size = parameters.size, size > configuration.maxMessageSize { return fail(.messageTooBig) }
            var sender: EmailAddress?
            if let path {
                guard let parsed = try? EmailAddress(parsing: path) else {
                    return fail(SMTPReply(501, "5.1.7", "Bad sender address syntax"))
                }
                if !parameters.smtpUTF8 && !path.allSatisfy(\.isASCII) {
                    return fail(SMTPReply(553, "5.6.7", "Non-ASCII sender needs SMTPUTF8"))
                }
                sender = parsed
            }
            transaction = Envelope(heloName: heloName, sender: sender, smtpUTF8: parameters.smtpUTF8,
                                   body8BitMIME: parameters.body8BitMIME, tls: tlsActive)
            return [.send(SMTPReply(250, "2.1.0", "Ok"))]
        case .rcpt(let path, _):
            guard let envelope = transaction else { return fail(SMTPReply(503, "5.5.1", "Error: need MAIL command")) }
            guard envelope.recipients.count + discardedRecipients < configuration.maxRecipients else {
                return fail(.tooManyRecipients)
            }
            guard let recipient = try? EmailAddress(parsing: path) else {
                return fail(SMTPReply(501, "5.1.3", "Bad recipient address syntax"))
            }
            if !envelope.smtpUTF8 && !path.allSatisfy(\.isASCII) {
                return fail(SMTPReply(553, "5.6.7", "Non-ASCII recipient needs SMTPUTF8"))
            }
            phase = .awaitingRecipient(recipient)
            return [.checkRecipient(recipient, envelope)]
        case .data:
            guard let envelope = transaction else { return fail(SMTPReply(503, "5.5.1", "Error: need RCPT command")) }
            guard !envelope.recipients.isEmpty || discardedRecipients > 0 else {
                return fail(SMTPReply(554, "5.5.1", "Error: no valid recipients"))
            }
            return [.send(SMTPReply(354, nil, "End data with <CR><LF>.<CR><LF>")),
                    .beginMessage(maxSize: configuration.maxMessageSize)]
        case .rset:
            resetTransaction()
            return [.send(.ok())]
        case .noop:
            return [.send(.ok())]
        case .help:
            return [.send(SMTPReply(214, "2.0.0", "See RFC 5321"))]
        case .vrfy:
            return [.send(SMTPReply(252, "2.0.0", "Cannot VRFY user, but will accept message"))]
        case .quit:
            phase = .closed
            return [.send(SMTPReply(221, "2.0.0", "Bye")), .close]
        case .startTLS:
            guard configuration.tlsAvailable, !tlsActive else {
                return fail(SMTPReply(502, "5.5.1", "Error: command not implemented"))
            }
            guard transaction == nil else { return fail(.badSequence) }
            tlsActive = true
            phase = .connected  // RFC 3207: the client starts again with EHLO
            heloName = ""
            return [.send(SMTPReply(220, "2.0.0", "Ready to start TLS")), .startTLS]
        }
    }

    /// The answer to `checkRecipient`.
    public mutating func recipientChecked(_ decision: RecipientDecision) -> [Action] {
        guard case .awaitingRecipient(let recipient) = phase else { return [] }
        phase = .greeted
        switch decision {
        case .accept(let route):
            transaction?.recipients.append(recipient)
            transaction?.routes.append(route)
            return [.send(SMTPReply(250, "2.1.5", "Ok"))]
        case .acceptAndDiscard:
            discardedRecipients += 1
            return [.send(SMTPReply(250, "2.1.5", "Ok"))]
        case .reject(let reply):
            return fail(reply)
        }
    }

    private mutating func messageReceived(_ result: Result<[UInt8], SMTPInputFramer.MessageProblem>) -> [Action] {
        guard let envelope = transaction else { return fail(.badSequence) }
        switch result {
        case .failure(let problem):
            resetTransaction()
            switch problem {
            case .bareLineEnding: return fail(.bareLineEndingInData)
            case .lineTooLong: return fail(.dataLineTooLong)
            case .tooBig: return fail(.messageTooBig)
            }
        case .success(let body):
            if envelope.recipients.isEmpty {  // every recipient was a discarding one
                resetTransaction()
                return [.send(SMTPReply(250, "2.0.0", "Ok: discarded"))]
            }
            phase = .awaitingStore
            return [.store(envelope, body)]
        }
    }

    /// The answer to `store`: the message is on stable storage.
    public mutating func messageStored(queueID: String) -> [Action] {
        guard phase == .awaitingStore else { return [] }
        phase = .greeted
        resetTransaction()
        return [.send(SMTPReply(250, "2.0.0", "Ok: queued as \(queueID)"))]
    }

    /// The answer to `store` when it could not be done: the reply to give (usually 451 4.3.0).
    public mutating func messageFailed(_ reply: SMTPReply) -> [Action] {
        guard phase == .awaitingStore else { return [] }
        phase = .greeted
        resetTransaction()
        return [.send(reply)]
    }

    private mutating func resetTransaction() {
        transaction = nil
        discardedRecipients = 0
    }

    /// A refused command; too many of them end the session.
    private mutating func fail(_ reply: SMTPReply) -> [Action] {
        errors += 1
        if errors >= configuration.maxErrors {
            phase = .closed
            return [.send(reply), .send(.tooManyErrors), .close]
        }
        return [.send(reply)]
    }

    private func ehloReply() -> SMTPReply {
        var lines = [configuration.hostname, "PIPELINING", "SIZE \(configuration.maxMessageSize)", "8BITMIME",
                     "SMTPUTF8", "ENHANCEDSTATUSCODES"]
        if configuration.tlsAvailable && !tlsActive { lines.append("STARTTLS") }
        return SMTPReply(code: 250, enhanced: nil, lines: lines)
    }
}
