import NIOCore
import NIOPosix
import NIOSSL
import SMTPCore

/// An open SMTP connection to a next hop, greeted and ready for transactions.
public final class SMTPClientConnection: Sendable {
    public let capabilities: SMTPServerCapabilities
    public let tlsActive: Bool
    /// Where it goes, `host:port`, for logs and the pool.
    public let endpoint: String
    private let channel: any Channel
    private let timeout: TimeAmount

    /// A refusal at the connection level (greeting, EHLO, STARTTLS): temporary (4xx) or permanent (5xx).
    public struct Refused: Error, CustomStringConvertible {
        public var reply: SMTPReply
        public var description: String { "next hop refused: \(reply.code) \(reply.lines.joined(separator: " "))" }
    }

    private init(channel: any Channel, capabilities: SMTPServerCapabilities, tlsActive: Bool, endpoint: String,
                 timeout: TimeAmount) {
        self.channel = channel
        self.capabilities = capabilities
        self.tlsActive = tlsActive
        self.endpoint = endpoint
        self.timeout = timeout
    }

    /// Connects, reads the greeting, says EHLO (HELO if EHLO is refused), and upgrades to TLS when the
    /// server offers STARTTLS and `tls` is given (opportunistic: certificates are not checked).
    public static func open(host: String, port: Int, heloName: String, tls: NIOSSLContext?, timeout: Duration,
                            group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws
        -> SMTPClientConnection
    {
        let amount = TimeAmount.milliseconds(Int64(timeout.components.seconds) * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(amount)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(SMTPClientHandler())
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            throw SMTPClientError.connect("\(host):\(port): \(error)")
        }
        let endpoint = "\(host):\(port)"
        do {
            let greeting = try await exchange(channel, [], replies: 1, timeout: amount)[0]
            guard greeting.code == 220 else { throw Refused(reply: greeting) }
            var capabilities = try await greet(channel, heloName: heloName, timeout: amount)
            var tlsActive = false
            if capabilities.startTLS, let tls {
                let reply = try await exchange(channel, Array("STARTTLS\r\n".utf8), replies: 1, timeout: amount)[0]
                if reply.code == 220 {
                    do {
                        try await channel.eventLoop.submit {
                            try channel.pipeline.syncOperations.handler(type: SMTPClientHandler.self).discardBufferedInput()
                            let handler = try NIOSSLClientHandler(context: tls, serverHostname: nil)
                            try channel.pipeline.syncOperations.addHandler(handler, position: .first)
                        }.get()
                        tlsActive = true
                        capabilities = try await greet(channel, heloName: heloName, timeout: amount)
                    } catch let refused as Refused {
                        throw refused
                    } catch {
                        throw SMTPClientError.tlsFailed("\(error)")
                    }
                }
            }
            return SMTPClientConnection(channel: channel, capabilities: capabilities, tlsActive: tlsActive,
                                        endpoint: endpoint, timeout: amount)
        } catch {
            channel.close(promise: nil)
            throw error
        }
    }

    private static func greet(_ channel: any Channel, heloName: String, timeout: TimeAmount) async throws
        -> SMTPServerCapabilities
    {
        let ehlo = try await exchange(channel, Array("EHLO \(heloName)\r\n".utf8), replies: 1, timeout: timeout)[0]
        if ehlo.code == 250 { return SMTPServerCapabilities(ehlo: ehlo) }
        if ehlo.code == 421 { throw Refused(reply: ehlo) }
        let helo = try await exchange(channel, Array("HELO \(heloName)\r\n".utf8), replies: 1, timeout: timeout)[0]
        guard helo.code == 250 else { throw Refused(reply: helo) }
        return .none
    }

    static func exchange(_ channel: any Channel, _ bytes: [UInt8], replies: Int, timeout: TimeAmount)
        async throws -> [SMTPReply]
    {
        // All of it on the channel's event loop, in one hand-over: the timer, the write and the timer's
        // cancellation from another thread would each wake the loop.
        try await channel.eventLoop.flatSubmit {
            startExchange(channel, bytes, replies: replies, timeout: timeout)
        }.get()
    }

    /// Writes `bytes` and collects `replies` replies; called on the channel's event loop.
    private static func startExchange(_ channel: any Channel, _ bytes: [UInt8], replies: Int, timeout: TimeAmount)
        -> EventLoopFuture<[SMTPReply]>
    {
        let promise = channel.eventLoop.makePromise(of: [SMTPReply].self)
        // A next hop that stops answering: closing the channel fails the exchange with the replies
        // that did arrive; the timeout error covers the case where nothing is left to fail it.
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            channel.close(promise: nil)
            channel.eventLoop.execute { promise.fail(SMTPClientError.timeout) }
        }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        // A write to a channel already closed never reaches the handler: its failure fails the exchange.
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { promise.fail($0) }
        channel.writeAndFlush(SMTPExchange(bytes: bytes, replies: replies, promise: promise), promise: written)
        return promise.futureResult
    }

    /// The pipelined envelope and, when DATA is answered 354, the body (`body` when a recipient was
    /// accepted, else an empty message), chained on the event loop: the task waits once, not twice.
    /// `final` is the reply to the body, or why it is missing (nil: the body was not sent).
    private static func exchange(_ channel: any Channel, envelope: [UInt8], replies: Int, recipients: Int,
                                 body: [UInt8], timeout: TimeAmount)
        async throws -> (envelope: [SMTPReply], final: Result<SMTPReply, any Error>?)
    {
        try await channel.eventLoop.flatSubmit {
            startExchange(channel, envelope, replies: replies, timeout: timeout).flatMap { got in
                guard got.count == replies, got.last?.code == 354 else {
                    return channel.eventLoop.makeSucceededFuture((got, nil))
                }
                let accepted = got.dropFirst().prefix(recipients).contains(where: \.isPositive)
                return startExchange(channel, accepted ? body : Array(".\r\n".utf8), replies: 1, timeout: timeout)
                    .map { (got, .success($0[0])) }
                    .flatMapErrorWithEventLoop { error, loop in loop.makeSucceededFuture((got, .failure(error))) }
            }
        }.get()
    }

    public var isActive: Bool { channel.isActive }

    /// Sends one message. Never throws: what went wrong is in each recipient's outcome.
    public func send(_ transaction: SMTPClientTransaction) async -> [SMTPClientTransaction.Outcome] {
        if let refusal = transaction.refusal(by: capabilities) {
            return transaction.recipients.map { _ in .failed(refusal) }
        }
        let commands = transaction.envelopeCommands(for: capabilities)
        var replies: [SMTPReply] = []
        var final: SMTPReply?
        do {
            if capabilities.pipelining {
                let bytes = Array(commands.map { $0 + "\r\n" }.joined().utf8)
                let outcome = try await Self.exchange(channel, envelope: bytes, replies: commands.count,
                                                      recipients: transaction.recipients.count,
                                                      body: transaction.encodedBody(), timeout: timeout)
                replies = outcome.envelope
                switch outcome.final {
                case .success(let reply): final = reply
                case .failure(SMTPClientError.partial(let got, _)): final = got.first
                case .failure, nil: break
                }
            } else {
                for (index, command) in commands.enumerated() {
                    if index == commands.count - 1, !replies.dropFirst().contains(where: \.isPositive) { break }
                    let reply = try await Self.exchange(channel, Array((command + "\r\n").utf8), replies: 1, timeout: timeout)[0]
                    replies.append(reply)
                    if index == 0 && !reply.isPositive { break }
                }
            }
            let recipientReplies = Array(replies.dropFirst().prefix(transaction.recipients.count))
            let dataReply = replies.count == commands.count ? replies.last : nil
            if dataReply?.code == 354 {
                if !capabilities.pipelining {  // (pipelined: the body went with the envelope's exchange)
                    let body = recipientReplies.contains(where: \.isPositive) ? transaction.encodedBody() : Array(".\r\n".utf8)
                    final = try await Self.exchange(channel, body, replies: 1, timeout: timeout)[0]
                }
            } else if replies.first?.isPositive == true {
                // A connection that cannot be reset is not put back in the pool.
                let reset = try? await Self.exchange(channel, Array("RSET\r\n".utf8), replies: 1, timeout: timeout)
                if reset?.first?.code != 250 { try? await channel.close() }
            }
        } catch SMTPClientError.partial(let got, _) {
            if replies.count < commands.count { replies += got } else if final == nil { final = got.first }
        } catch {}
        let recipientReplies = Array(replies.dropFirst().prefix(transaction.recipients.count))
        let dataReply = replies.count == commands.count ? replies.last : nil
        return transaction.outcomes(mail: replies.first, recipients: recipientReplies, data: dataReply, final: final)
    }

    /// Ends the session politely.
    public func close() async {
        if channel.isActive {
            _ = try? await Self.exchange(channel, Array("QUIT\r\n".utf8), replies: 1, timeout: .seconds(5))
        }
        try? await channel.close()
    }
}
