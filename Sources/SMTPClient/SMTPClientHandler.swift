import NIOCore
import SMTPCore

/// One exchange with the server: bytes to send and how many replies they call for.
struct SMTPExchange: Sendable {
    var bytes: [UInt8]
    var replies: Int
    var promise: EventLoopPromise<[SMTPReply]>
}

/// Client side of an SMTP connection: writes exchanges and hands each the replies it called for, in
/// order. Replies are cut by `SMTPReplyParser`; anything unparseable or unexpected fails the connection.
final class SMTPClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = SMTPExchange
    typealias OutboundOut = ByteBuffer

    private var parser = SMTPReplyParser()
    private var waiting: [(count: Int, promise: EventLoopPromise<[SMTPReply]>)] = []
    private var collected: [SMTPReply] = []
    private var failure: (any Error)?

    /// The greeting comes unasked: the first exchange of a connection is one with no bytes.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        if let failure {
            exchange.promise.fail(failure)
            promise?.fail(failure)
            return
        }
        if exchange.replies > 0 { waiting.append((exchange.replies, exchange.promise)) } else { exchange.promise.succeed([]) }
        if exchange.bytes.isEmpty {
            promise?.succeed(())
        } else {
            context.write(wrapOutboundOut(ByteBuffer(bytes: exchange.bytes)), promise: promise)
        }
        deliverReplies()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { parser.feed($0) }
        do {
            while let reply = try parser.next() { collected.append(reply) }
        } catch {
            fail(error, context: context)
            return
        }
        deliverReplies()
    }

    private func deliverReplies() {
        while let first = waiting.first, collected.count >= first.count {
            waiting.removeFirst()
            let replies = Array(collected.prefix(first.count))
            collected.removeFirst(first.count)
            first.promise.succeed(replies)
        }
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

    public var description: String {
        switch self {
        case .partial(let replies, let error): "connection failed after \(replies.count) replies: \(error)"
        case .connect(let text): "cannot connect: \(text)"
        case .timeout: "the next hop did not answer in time"
        case .protocolError(let text): text
        }
    }
}
