import MailCore
import NIOCore
import NIOSSL
import SMTPCore

/// What the SMTP server asks of the rest of the node.
public protocol SMTPServerDelegate: Sendable {
    associatedtype Route: Sendable & Equatable

    /// A draining node answers 421 at connect.
    var isDraining: Bool { get }
    /// The decision when it can be made without waiting (called on the session's event loop); nil:
    /// `checkRecipient` is asked.
    func checkRecipientNow(_ recipient: EmailAddress, envelope: SMTPServerSession<Route>.Envelope, client: String)
        -> SMTPServerSession<Route>.RecipientDecision?
    func checkRecipient(_ recipient: EmailAddress, envelope: SMTPServerSession<Route>.Envelope, client: String) async
        -> SMTPServerSession<Route>.RecipientDecision
    /// Stores the message durably: the queue id, or the reply to give instead of 250.
    func store(_ envelope: SMTPServerSession<Route>.Envelope, body: [UInt8], client: String) async -> Result<String, SMTPReply>
}

/// Runs one SMTP session on a channel: bytes go through `SMTPInputFramer` into `SMTPServerSession`, and
/// the handler carries out the actions the session returns. It reads only when it is ready for more
/// (no lookup or store outstanding, the client reading its replies), so a client that pipelines ten
/// thousand commands or never reads costs a bounded amount of memory.
final class SMTPServerHandler<Delegate: SMTPServerDelegate>: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var session: SMTPServerSession<Delegate.Route>
    private var framer = SMTPInputFramer()
    private let delegate: Delegate
    private let tls: NIOSSLContext?
    private let sessions: SessionCounter
    /// How long a last reply may take to go out before the connection is closed anyway.
    private let linger: TimeAmount
    private var busy = false
    private var closed = false
    private var counted = false
    private var client = "unknown"

    init(configuration: SMTPServerSession<Delegate.Route>.Configuration, delegate: Delegate, tls: NIOSSLContext?,
         sessions: SessionCounter, linger: TimeAmount) {
        self.linger = linger
        session = SMTPServerSession(configuration: configuration)
        self.delegate = delegate
        self.tls = tls
        self.sessions = sessions
    }

    func channelActive(context: ChannelHandlerContext) {
        client = context.remoteAddress?.ipAddress ?? "unknown"
        if !sessions.enter() {
            closed = true
            finish(with: SMTPReply(421, "4.7.0", "Too many connections, try again later"), context: context)
            return
        }
        counted = true
        perform(session.start(draining: delegate.isDraining), context: context)
        context.flush()
        readMore(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        if counted {
            counted = false
            sessions.leave()
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closed else { return }
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { framer.feed($0) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        process(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        readMore(context: context)
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            // While a lookup or store is outstanding the handler reads nothing on purpose: not idle.
            guard !closed, !busy else { return }
            closed = true
            finish(with: SMTPReply(421, "4.4.2", "Error: timeout exceeded"), context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closed = true
        context.close(promise: nil)
    }

    /// Takes framer events until the session waits for an answer or input runs out, then flushes the
    /// replies (one write for a pipelined group, RFC 2920) and asks for more input.
    private func process(context: ChannelHandlerContext) {
        while !busy && !closed, let event = framer.next() {
            perform(session.handle(event), context: context)
        }
        context.flush()
        readMore(context: context)
    }

    private func readMore(context: ChannelHandlerContext) {
        if !busy && !closed && context.channel.isWritable { context.read() }
    }

    private func perform(_ actions: [SMTPServerSession<Delegate.Route>.Action], context: ChannelHandlerContext) {
        var actions = actions
        var next = 0
        while next < actions.count {
            let action = actions[next]
            next += 1
            switch action {
            case .send(let reply):
                context.write(wrapOutboundOut(ByteBuffer(bytes: reply.wireBytes)), promise: nil)
            case .beginMessage(let maxSize):
                framer.beginMessage(maxSize: maxSize)
            case .checkRecipient(let recipient, let envelope):
                if let decision = delegate.checkRecipientNow(recipient, envelope: envelope, client: client) {
                    // After the actions already due, as if the answer had come back later.
                    actions += session.recipientChecked(decision)
                    continue
                }
                busy = true
                context.flush()
                let delegate = self.delegate
                let client = self.client
                context.eventLoop.makeFutureWithTask {
                    await delegate.checkRecipient(recipient, envelope: envelope, client: client)
                }.assumeIsolated().whenSuccess { decision in
                    self.resume(self.session.recipientChecked(decision), context: context)
                }
            case .store(let envelope, let body):
                busy = true
                context.flush()
                let delegate = self.delegate
                let client = self.client
                context.eventLoop.makeFutureWithTask {
                    await delegate.store(envelope, body: body, client: client)
                }.assumeIsolated().whenSuccess { result in
                    switch result {
                    case .success(let id): self.resume(self.session.messageStored(queueID: id), context: context)
                    case .failure(let reply): self.resume(self.session.messageFailed(reply), context: context)
                    }
                }
            case .startTLS:
                // Bytes the client sent after STARTTLS were sent in clear text: they are never executed.
                framer.discardBufferedInput()
                guard let tls else { continue }
                context.flush()
                let handler = NIOSSLServerHandler(context: tls)
                do {
                    try context.channel.pipeline.syncOperations.addHandler(handler, position: .first)
                } catch {
                    closed = true
                    context.close(promise: nil)
                }
            case .close:
                closed = true
                finish(with: nil, context: context)
            }
        }
    }

    /// Sends the last reply (if any, after those already written) and closes once it is out, or after
    /// `linger` at most: a client that never reads must not hold its session open.
    private func finish(with reply: SMTPReply?, context: ChannelHandlerContext) {
        let bytes = reply.map { ByteBuffer(bytes: $0.wireBytes) } ?? ByteBuffer()
        let channel = context.channel
        let limit = context.eventLoop.scheduleTask(in: linger) { channel.close(promise: nil) }
        context.writeAndFlush(wrapOutboundOut(bytes)).whenComplete { _ in
            limit.cancel()
            channel.close(promise: nil)
        }
    }

    private func resume(_ actions: [SMTPServerSession<Delegate.Route>.Action], context: ChannelHandlerContext) {
        busy = false
        guard !closed else { return }
        perform(actions, context: context)
        process(context: context)
    }
}
