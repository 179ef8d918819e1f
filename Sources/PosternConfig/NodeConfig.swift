import Storage

/// The validated configuration of one node (SPEC §2). Built only by `ConfigLoader`.
public struct NodeConfig: Sendable {
    public struct Node: Sendable {
        public var name: String
        /// The name this node gives in its SMTP greeting and Received lines.
        public var hostname: String
    }

    public struct Database: Sendable {
        public var url: DatabaseURL
        public var poolSize: Int
        public var connectTimeout: Duration
        public var statementTimeout: Duration

        /// The longest statement limit accepted (Connector/C keeps its read timeout in milliseconds in an int).
        public static let maxStatementTimeout: Duration = .seconds(1_000_000)
        public static let maxConnectTimeout: Duration = .seconds(3600)

        public var connectionOptions: ConnectionOptions {
            ConnectionOptions(
                url: url, connectTimeout: UInt32(clamping: max(1, min(connectTimeout, Self.maxConnectTimeout).components.seconds)),
                statementTimeout: UInt32(clamping: max(1, min(statementTimeout, Self.maxStatementTimeout).components.seconds)))
        }
    }

    public struct SMTP: Sendable {
        public var listen: Endpoint
        public var maxMessageSize: Int
        public var tlsCertificate: String?
        public var tlsKey: String?
        /// A session that sends nothing for this long gets 421 and is closed.
        public var idleTimeout: Duration
        public var maxSessions: Int
        public var maxRecipients: Int
        /// How long an RCPT-time alias lookup is kept (changes made through any node end it sooner); 0: not kept.
        public var aliasCacheTTL: Duration
    }

    public struct Delivery: Sendable {
        /// The smart host every message goes to; nil means MX lookup.
        public var relayHost: Endpoint?
        public var firstRetry: Duration
        public var maxRetryInterval: Duration
        public var maxLifetime: Duration
        /// The port of MX hosts (25; another only in a test lab).
        public var mxPort: Int
        /// Messages delivered at once.
        public var concurrency: Int
        /// How long a next hop may take to answer.
        public var timeout: Duration
    }

    public struct Domains: Sendable {
        public var root: String
        public var shared: [String]
        /// The host names custom domains point their MX records at: every node's; this node's
        /// `node.hostname` when not set.
        public var mxHosts: [String]
    }

    public struct SRS: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
        public var domain: String
        /// The first signs; all of them verify.
        public var secrets: [String]

        /// Secrets never reach logs, even through a debug dump of the configuration.
        public var description: String { "SRS(domain: \(domain), secrets: \(secrets.count) redacted)" }
        public var debugDescription: String { description }
    }

    public struct DKIM: Sendable {
        public var selector: String
        public var keysDirectory: String
    }

    /// Defaults for users without limits of their own (0: none).
    public struct Limits: Sendable {
        public var messagesPerHour: Int
        public var newAliasesPerHour: Int
        public var bandwidthPerMonth: Int
    }

    public struct Cluster: Sendable {
        public var heartbeatInterval: Duration
        public var leaseTimeout: Duration
        public var autoFailover: Bool
    }

    public var node: Node
    public var database: Database
    public var smtp: SMTP
    public var delivery: Delivery
    public var spoolPath: String
    public var apiListen: Endpoint
    /// Requests per minute per API token (0: no limit).
    public var apiRateLimit: Int
    /// Where people reach this node's HTTP side from outside (banner links); `http://` + `api.listen`
    /// when not set.
    public var apiPublicURL: String
    public var limits: Limits
    /// The sender of the mail Postern writes itself (verification links, notices); `postern@<root>`
    /// when not set.
    public var notificationsFrom: String
    public var domains: Domains
    public var srs: SRS
    public var dkim: DKIM
    public var dnsResolver: Endpoint
    public var cluster: Cluster

    init(_ v: ConfigValues) {
        // Required keys were checked by the loader; the fallbacks below are never used.
        let name = v.text("node.name") ?? "node"
        let root = v.text("domains.root") ?? "invalid"
        var url = DatabaseURL(user: "", password: nil, host: "localhost", database: "postern")
        if case .database(let given) = v.value("database.url") { url = given }
        node = Node(name: name, hostname: v.text("node.hostname") ?? name)
        database = Database(
            url: url, poolSize: v.number("database.pool_size") ?? 10,
            connectTimeout: v.duration("database.connect_timeout") ?? .seconds(5),
            statementTimeout: v.duration("database.statement_timeout") ?? .seconds(30))
        smtp = SMTP(
            listen: v.endpoint("smtp.listen") ?? Endpoint(host: "0.0.0.0", port: 25),
            maxMessageSize: v.number("smtp.max_message_size") ?? 26_214_400,
            tlsCertificate: v.text("smtp.tls_certificate"), tlsKey: v.text("smtp.tls_key"),
            idleTimeout: v.duration("smtp.idle_timeout") ?? .seconds(300), maxSessions: v.number("smtp.max_sessions") ?? 500,
            maxRecipients: v.number("smtp.max_recipients") ?? 100,
            aliasCacheTTL: v.duration("smtp.alias_cache_ttl") ?? .seconds(5))
        delivery = Delivery(
            relayHost: v.endpoint("delivery.relay_host"),
            firstRetry: v.duration("delivery.first_retry") ?? .seconds(300),
            maxRetryInterval: v.duration("delivery.max_retry_interval") ?? .seconds(4000),
            maxLifetime: v.duration("delivery.max_lifetime") ?? .seconds(432_000),
            mxPort: v.number("delivery.mx_port") ?? 25, concurrency: v.number("delivery.concurrency") ?? 64, timeout: v.duration("delivery.timeout") ?? .seconds(120))
        spoolPath = v.text("spool.path") ?? "/var/spool/postern"
        apiListen = v.endpoint("api.listen") ?? Endpoint(host: "127.0.0.1", port: 8080)
        apiRateLimit = v.number("api.rate_limit") ?? 60
        apiPublicURL = v.text("api.public_url") ?? "http://\(apiListen.host):\(apiListen.port)"
        limits = Limits(
            messagesPerHour: v.number("limits.messages_per_hour") ?? 200, newAliasesPerHour: v.number("limits.new_aliases_per_hour") ?? 10,
            bandwidthPerMonth: v.number("limits.bandwidth_per_month") ?? 104_857_600)
        domains = Domains(root: root, shared: v.list("domains.shared") ?? [root],
                          mxHosts: v.list("domains.mx_hosts") ?? [node.hostname])
        notificationsFrom = v.text("notifications.from") ?? "postern@\(root)"
        srs = SRS(domain: v.text("srs.domain") ?? root, secrets: v.list("srs.secrets") ?? [])
        dkim = DKIM(selector: v.text("dkim.selector") ?? "s1", keysDirectory: v.text("dkim.keys_dir") ?? "/etc/postern/dkim")
        dnsResolver = v.endpoint("dns.resolver") ?? Endpoint(host: "127.0.0.1", port: 53)
        cluster = Cluster(
            heartbeatInterval: v.duration("cluster.heartbeat_interval") ?? .seconds(5),
            leaseTimeout: v.duration("cluster.lease_timeout") ?? .seconds(30),
            autoFailover: v.flag("cluster.auto_failover") ?? true)
    }

    /// Rules that involve more than one key.
    func crossKeyProblems() -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        if (smtp.tlsCertificate == nil) != (smtp.tlsKey == nil) {
            let missing = smtp.tlsCertificate == nil ? "smtp.tls_certificate" : "smtp.tls_key"
            problems.append(ConfigProblem(key: missing, message: "is required when the other TLS file is set"))
        }
        if !(apiPublicURL.hasPrefix("http://") || apiPublicURL.hasPrefix("https://")) || apiPublicURL.contains(where: \.isWhitespace) {
            problems.append(ConfigProblem(key: "api.public_url", message: "must be an http:// or https:// URL"))
        }
        if !notificationsFrom.contains("@") || notificationsFrom.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" }) {
            problems.append(ConfigProblem(key: "notifications.from", message: "must be an address, local@domain"))
        }
        if node.name.utf8.count > 64 {
            problems.append(ConfigProblem(key: "node.name", message: "must be at most 64 characters (the nodes table's limit)"))
        }
        if cluster.leaseTimeout <= cluster.heartbeatInterval * 2 {
            problems.append(ConfigProblem(
                key: "cluster.lease_timeout", message: "must be more than twice cluster.heartbeat_interval"))
        }
        if delivery.maxRetryInterval < delivery.firstRetry {
            problems.append(ConfigProblem(
                key: "delivery.max_retry_interval", message: "must not be shorter than delivery.first_retry"))
        }
        if database.statementTimeout > Database.maxStatementTimeout {
            problems.append(ConfigProblem(key: "database.statement_timeout", message: "must be at most 1000000s"))
        }
        if database.connectTimeout > Database.maxConnectTimeout {
            problems.append(ConfigProblem(key: "database.connect_timeout", message: "must be at most 1h"))
        }
        if smtp.listen == apiListen {
            problems.append(ConfigProblem(key: "api.listen", message: "is the same address as smtp.listen"))
        }
        return problems
    }
}
