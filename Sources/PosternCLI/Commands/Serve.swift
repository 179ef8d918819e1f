import API
import ArgumentParser
import Cluster
import Logging
import OpenPGP
import PosternConfig
import ServiceLifecycle
import Storage
import Relay
import SMTPServer
import Spool
import Directory
import MailAuth
import MailCore
import NIOSSL

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one node: SMTP listener, delivery queue, REST API, /metrics and /health.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingFailures {
            let config = try global.loadConfig()
            let logger = Logger(label: "postern.node")
            let pool = global.openPool(config)
            do {
                let rows = try await pool.query("SELECT COUNT(*) AS n FROM schema_migrations")
                let applied = try rows.first?.int("n") ?? 0
                logger.info(
                    "database ready",
                    metadata: ["database": "\(config.database.url.redacted)", "migrations": "\(applied)"])
            } catch {
                await pool.close()
                throw error
            }
            let mail = try MailNode(config: config, pool: pool)
            // What the spool holds is taken in before the listener can store anything new.
            try await mail.queue.recoverSpool()
            let probe = NodeProbe(
                metrics: { mail.metrics.prometheusText(aliasCache: mail.routing.cache?.counts) },
                facts: { [("queue_depth", await mail.queue.depth), ("smtp_sessions", mail.listener.openSessions),
                          ("draining", mail.inbound.isDraining ? 1 : 0)] })
            let node = NodeService(config: config, logger: logger)
            let lease = ActiveLease(pool: pool)
            let failures = FailedDeliveries(pool: pool)
            let singleton = SingletonWork(
                jobs: [
                    .init(name: "purge-kept-messages", interval: .seconds(3600)) { try await failures.purgeKeptMessages() },
                    .init(name: "prune-failed-deliveries", interval: .seconds(3600)) {
                        try await failures.pruneRecords(olderThan: 30 * 86_400)
                    },
                    .init(name: "prune-cluster-records", interval: .seconds(3600)) { try await lease.pruneRuns(olderThan: .seconds(30 * 86_400)) },
                ],
                lease: lease, node: config.node.name, logger: Logger(label: "postern.cluster"))
            let v = APIServer.version
            let cluster = ClusterCoordinator(
                settings: .init(name: config.node.name, hostname: config.node.hostname, smtpAddress: "\(config.smtp.listen)",
                                version: "\(v.major).\(v.minor).\(v.patch)", heartbeatInterval: config.cluster.heartbeatInterval,
                                leaseTimeout: config.cluster.leaseTimeout, autoFailover: config.cluster.autoFailover),
                registry: NodeRegistry(pool: pool), lease: lease,
                member: NodeMembership(queue: mail.queue, inbound: mail.inbound, singleton: singleton,
                                       openSessions: { mail.listener.openSessions }),
                logger: Logger(label: "postern.cluster"))
            let queue = mail.queue
            let api = APIServer.application(pool: pool, config: config, logger: Logger(label: "postern.api"), probe: probe,
                                            resend: { failure, sender, message in try await queue.resend(failure, sender: sender, message: message) },
                                            notify: { notice in try await queue.submit(notice) }, dns: mail.dns,
                                            routingChanged: { [routing = mail.routing] in try await routing.routingChanged() })
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: node), .init(service: cluster)]
            if let cache = mail.routing.cache {
                services.append(.init(service: RoutingChangeWatch(routing: mail.routing, cache: cache, logger: Logger(label: "postern.node"))))
            }
            services += [.init(service: mail.queue), .init(service: mail.listener), .init(service: api)]
            // Shutdown runs in reverse: the API stops, then the listener (no new sessions), then the queue.
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: services,
                    gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
            mail.spool.close()
            await pool.close()
            logger.info("stopped", metadata: ["node": "\(config.node.name)"])
        }
    }
}

/// The node itself. For now it announces itself and waits for shutdown; the REST API runs beside it
/// in the service group, and the SMTP listener and queue join as they are built.
struct NodeService: Service, CustomStringConvertible {
    let config: NodeConfig
    let logger: Logger

    /// What logs show of this service (ServiceLifecycle logs services by description): never the config's secrets.
    var description: String { "NodeService(\(config.node.name))" }

    func run() async throws {
        logger.info("serving", metadata: ["node": "\(config.node.name)", "hostname": "\(config.node.hostname)"])
        try? await gracefulShutdown()
        logger.info("shutting down", metadata: ["node": "\(config.node.name)"])
    }
}

/// What the cluster asks of this node: singleton work (the shared queue's retries and scheduled jobs)
/// on and off, and draining.
struct NodeMembership: ClusterMember {
    let queue: DeliveryQueue
    let inbound: InboundMail
    let singleton: SingletonWork
    /// SMTP sessions still open: a draining node refuses new ones, but those open may still hand it mail.
    let openSessions: @Sendable () -> Int

    func setActive(epoch: UInt64?) async {
        await queue.setActive(epoch: epoch)
        await singleton.setEpoch(epoch)
    }

    func drain() async -> Int {
        inbound.setDraining(true)
        return await queue.drain() + openSessions()
    }

    func undrain() async {
        inbound.setDraining(false)
        await queue.undrain()
    }

    var queueDepth: Int { get async { await queue.depth } }
}

/// The mail side of a node, wired from the configuration: spool, delivery queue, RCPT policy, listener.
struct MailNode {
    let spool: Spool
    let metrics = NodeMetrics()
    let queue: DeliveryQueue
    let inbound: InboundMail
    let listener: SMTPListener<InboundMail>
    /// `dns.resolver`'s answers, kept for their TTL: for mail authentication and the API's domain checks.
    let dns: CachingDNS
    /// RCPT-time alias lookups go through `routing.cache` (unless `smtp.alias_cache_ttl` is 0).
    let routing: MailRouting

    init(config: NodeConfig, pool: ConnectionPool) throws {
        spool = try Spool(path: config.spoolPath)
        let dns = CachingDNS(host: config.dnsResolver.host, port: Int(config.dnsResolver.port))
        self.dns = dns
        let srs = SRSRewriter(domain: config.srs.domain, secrets: config.srs.secrets)
        let routing = MailRouting(pool: pool, limits: ForwardingLimits(
            messagesPerHour: config.limits.messagesPerHour, newAliasesPerHour: config.limits.newAliasesPerHour,
            bandwidthPerMonth: config.limits.bandwidthPerMonth),
            cache: config.smtp.aliasCacheTTL > .zero ? AliasRoutingCache(lifetime: config.smtp.aliasCacheTTL) : nil)
        self.routing = routing
        let resolver: any NextHopResolver
        if let relay = config.delivery.relayHost {
            resolver = RelayHost(NextHop(host: relay.host, port: Int(relay.port)))
        } else {
            resolver = MXResolver(server: NextHop(host: config.dnsResolver.host, port: Int(config.dnsResolver.port)),
                                  port: config.delivery.mxPort)
        }
        var clientTLS = TLSConfiguration.makeClientConfiguration()
        clientTLS.certificateVerification = .none  // opportunistic STARTTLS, as Postfix's `may`
        queue = DeliveryQueue(
            settings: .init(
                heloName: config.node.hostname,
                schedule: RetrySchedule(first: config.delivery.firstRetry, maximum: config.delivery.maxRetryInterval,
                                        lifetime: config.delivery.maxLifetime),
                concurrency: config.delivery.concurrency, timeout: config.delivery.timeout,
                tls: try NIOSSLContext(configuration: clientTLS),
                dkim: DKIMKeyring(directory: config.dkim.keysDirectory, selector: config.dkim.selector,
                                  fallbackDomain: config.domains.root),
                rootDomain: config.domains.root,
                deactivation: config.srs.secrets.first.map { (config.apiPublicURL, $0) },
                noticeSender: try? EmailAddress(parsing: config.notificationsFrom)),
            spool: spool, srs: srs, resolver: resolver, failures: FailedDeliveries(pool: pool), routing: routing,
            metrics: metrics, logger: Logger(label: "postern.queue"),
            keyring: try Keyring(directory: config.spoolPath + "/keyring"),
            shared: SharedDeferredQueue(pool: pool, node: config.node.name))
        let queue = self.queue
        let policy = RecipientPolicy(routing: routing, sharedDomains: config.domains.shared, rootDomain: config.domains.root,
                                     srs: srs, logger: Logger(label: "postern.smtp"),
                                     // Not awaited: queueing a notice (a lookup, an fsync) must not delay the RCPT reply.
                                     limitReached: { userID, limit in Task { await queue.tellLimitReached(userID: userID, limit: limit) } })
        inbound = InboundMail(policy: policy, spool: spool, queue: queue, metrics: metrics, failures: FailedDeliveries(pool: pool),
                              noticeSender: try? EmailAddress(parsing: config.notificationsFrom), secrets: config.srs.secrets,
                              hostname: config.node.hostname,
                              authenticator: MailAuthenticator(dns: dns, hostname: config.node.hostname),
                              logger: Logger(label: "postern.smtp"))
        var tls: (certificate: String, key: String)?
        if let certificate = config.smtp.tlsCertificate, let key = config.smtp.tlsKey { tls = (certificate, key) }
        listener = try SMTPListener(
            settings: .init(
                host: config.smtp.listen.host, port: Int(config.smtp.listen.port),
                session: .init(hostname: config.node.hostname, maxMessageSize: config.smtp.maxMessageSize,
                               maxRecipients: config.smtp.maxRecipients),
                idleTimeout: config.smtp.idleTimeout, maxSessions: config.smtp.maxSessions, tls: tls),
            delegate: inbound, logger: Logger(label: "postern.smtp"))
    }
}
