import NIOCore
import SMTPCore

/// One exchange with the server: bytes to send and how many replies they call for.
struct SMTPExchange: Sendable {
    var bytes: [UInt8]
    var replies: Int
    var promise: EventLoopPromise<[SMTPReply]>
}

/// Client side of an SMTP connection: writes exchanges and hands each the replies it called for, in
/// order. Replies are cut by `SMTPReplyParser`; anything unparseable or unasked fails the connection: a
/// reply that arrives when none is awaited (a 421 on an idle pooled connection, a server that answers
/// twice) would otherwise be taken as the answer to the next command.
final class SMTPClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = SMTPExchange
    typealias OutboundOut = ByteBuffer

    private var parser = SMTPReplyParser()
    private var waiting: [(count: Int, promise: EventLoopPromise<[SMTPReply]>)] = []
    private var collected: [SMTPReply] = []
    private var failure: (any Error)?
    /// Until the first exchange (the one awaiting the greeting) is written, replies are kept for it.
    private var started = false

    /// The greeting comes unasked: the first exchange of a connection is one with no bytes.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        if let failure {
            exchange.promise.fail(failure)
            promise?.fail(failure)
            return
        }
        started = true
        if exchange.replies > 0 { waiting.append((exchange.replies, exchange.promise)) } else { exchange.promise.succeed([]) }
        if exchange.bytes.isEmpty {
            promise?.succeed(())
        } else {
            context.write(wrapOutboundOut(ByteBuffer(bytes: exchange.bytes)), promise: promise)
        }
        deliverReplies(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { parser.feed($0) }
        do {
            while let reply = try parser.next() { collected.append(reply) }
        } catch {
            // The replies before the garbage still answer what they answer (a 220 to STARTTLS
            // followed by clear-text junk is then a failed handshake, not a refusal).
            deliverReplies(context: context)
            fail(error, context: context)
            return
        }
        deliverReplies(context: context)
    }

    private func deliverReplies(context: ChannelHandlerContext) {
        while let first = waiting.first, collected.count >= first.count {
            waiting.removeFirst()
            let replies = Array(collected.prefix(first.count))
            collected.removeFirst(first.count)
            first.promise.succeed(replies)
        }
        if started, waiting.isEmpty, let stray = collected.first {
            collected = []
            fail(SMTPClientError.protocolError("unasked reply from the server: \(stray.code) \(stray.lines.joined(separator: " "))"),
                 context: context)
        }
    }

    /// RFC 3207 §4.2: after the server's 220 to STARTTLS, anything it sent in clear text is dropped
    /// unread, so a man in the middle cannot inject replies into the TLS session.
    func discardBufferedInput() {
        parser = SMTPReplyParser()
        collected = []
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(ChannelError.eof, context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error, context: context)
    }

    /// Fails what waits, but hands over the replies that did arrive: a connection cut after some
    /// replies still tells which recipients were refused.
    private func fail(_ error: any Error, context: ChannelHandlerContext) {
        guard failure == nil else { return }
        failure = error
        let pending = waiting
        waiting = []
        for (_, promise) in pending {
            if collected.isEmpty {
                promise.fail(SMTPClientError.partial([], error))
            } else {
                promise.fail(SMTPClientError.partial(collected, error))
                collected = []
            }
        }
        context.close(promise: nil)
    }
}

public enum SMTPClientError: Error, CustomStringConvertible {
    /// The connection failed after these replies of an exchange had arrived.
    case partial([SMTPReply], any Error)
    case connect(String)
    case timeout
    case protocolError(String)
    /// The TLS handshake after STARTTLS failed: the hop may still take the message in clear text.
    case tlsFailed(String)

    public var description: String {
        switch self {
        case .partial(let replies, let error): "connection failed after \(replies.count) replies: \(error)"
        case .connect(let text): "cannot connect: \(text)"
        case .timeout: "the next hop did not answer in time"
        case .protocolError(let text): text
        case .tlsFailed(let text): "TLS handshake failed: \(text)"
        }
    }
}
