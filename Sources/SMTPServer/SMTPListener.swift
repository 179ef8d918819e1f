import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SMTPCore
import ServiceLifecycle
import Synchronization

/// Counts open SMTP sessions against a cap.
final class SessionCounter: Sendable {
    private let open = Atomic<Int>(0)
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Takes a place, or returns false when the cap is reached.
    func enter() -> Bool {
        if open.wrappingAdd(1, ordering: .relaxed).newValue > limit {
            open.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func leave() { open.wrappingSubtract(1, ordering: .relaxed) }
    var current: Int { open.load(ordering: .relaxed) }
}

/// The SMTP listener of a node, as a service: it binds, serves until graceful shutdown, then stops
/// accepting and gives sessions in progress a moment to finish.
public final class SMTPListener<Delegate: SMTPServerDelegate>: Service, CustomStringConvertible {
    public struct Settings: Sendable {
        public var host: String
        public var port: Int
        public var session: SMTPServerSession<Delegate.Route>.Configuration
        public var idleTimeout: Duration
        public var maxSessions: Int
        /// PEM certificate chain and key for STARTTLS; nil: no STARTTLS.
        public var tls: (certificate: String, key: String)?

        public init(host: String, port: Int, session: SMTPServerSession<Delegate.Route>.Configuration,
                    idleTimeout: Duration, maxSessions: Int, tls: (certificate: String, key: String)?) {
            self.host = host
            self.port = port
            self.session = session
            self.idleTimeout = idleTimeout
            self.maxSessions = maxSessions
            self.tls = tls
        }
    }

    let settings: Settings
    let delegate: Delegate
    let logger: Logger
    let group: any EventLoopGroup
    let sessions: SessionCounter
    let tlsContext: NIOSSLContext?

    public var description: String { "SMTPListener(\(settings.host):\(settings.port))" }

    public init(settings: Settings, delegate: Delegate, logger: Logger,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        self.settings = settings
        self.delegate = delegate
        self.logger = logger
        self.group = group
        sessions = SessionCounter(limit: settings.maxSessions)
        if let tls = settings.tls {
            let chain = try NIOSSLCertificate.fromPEMFile(tls.certificate).map { NIOSSLCertificateSource.certificate($0) }
            let configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: tls.key, format: .pem)))
            tlsContext = try NIOSSLContext(configuration: configuration)
        } else {
            tlsContext = nil
        }
    }

    public var openSessions: Int { sessions.current }

    public func run() async throws {
        var configured = settings.session
        configured.tlsAvailable = tlsContext != nil
        let sessionConfiguration = configured
        let idle = TimeAmount.nanoseconds(Int64(settings.idleTimeout.components.seconds) * 1_000_000_000
            + settings.idleTimeout.components.attoseconds / 1_000_000_000)
        let (delegate, tls, sessions) = (self.delegate, tlsContext, self.sessions)
        let linger = min(idle, .seconds(10))
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idle))
                    try channel.pipeline.syncOperations.addHandler(
                        SMTPServerHandler(configuration: sessionConfiguration, delegate: delegate, tls: tls, sessions: sessions, linger: linger))
                }
            }
            .bind(host: settings.host, port: settings.port).get()
        logger.info("smtp listening", metadata: ["address": "\(settings.host):\(settings.port)", "starttls": "\(tls != nil)"])
        await withGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
        // Sessions already open finish their transaction: wait a little for them.
        for _ in 0..<100 where sessions.current > 0 {
            try? await Task.sleep(for: .milliseconds(100))
        }
        logger.info("smtp stopped", metadata: ["open_sessions": "\(sessions.current)"])
    }
}
