/// Every key a configuration file may hold (SPEC §2), with defaults. Anything else is an error.
enum ConfigSchema {
    static let keys: [ConfigKey] = [
        ConfigKey("node.name", .hostname, required: true),
        ConfigKey("node.hostname", .hostname),
        ConfigKey("database.url", .database, required: true),
        ConfigKey("database.pool_size", .number(1...500), default: .number(10)),
        ConfigKey("database.connect_timeout", .duration, default: .duration(.seconds(5))),
        ConfigKey("database.statement_timeout", .duration, default: .duration(.seconds(30))),
        ConfigKey("smtp.listen", .endpoint(defaultPort: nil), default: .endpoint(Endpoint(host: "0.0.0.0", port: 25))),
        ConfigKey("smtp.max_message_size", .number(1024...(1 << 31)), default: .number(26_214_400)),
        ConfigKey("smtp.tls_certificate", .absolutePath),
        ConfigKey("smtp.tls_key", .absolutePath),
        ConfigKey("smtp.idle_timeout", .duration, default: .duration(.seconds(300))),
        ConfigKey("smtp.max_sessions", .number(1...100_000), default: .number(500)),
        ConfigKey("smtp.max_recipients", .number(1...10_000), default: .number(100)),
        ConfigKey("delivery.relay_host", .endpoint(defaultPort: 25)),
        ConfigKey("delivery.first_retry", .duration, default: .duration(.seconds(300))),
        ConfigKey("delivery.max_retry_interval", .duration, default: .duration(.seconds(4000))),
        ConfigKey("delivery.max_lifetime", .duration, default: .duration(.seconds(5 * 86_400))),
        ConfigKey("delivery.mx_port", .number(1...65_535), default: .number(25)),
        ConfigKey("delivery.concurrency", .number(1...10_000), default: .number(64)),
        ConfigKey("delivery.timeout", .duration, default: .duration(.seconds(120))),
        ConfigKey("spool.path", .absolutePath, default: .text("/var/spool/postern")),
        ConfigKey("api.listen", .endpoint(defaultPort: nil), default: .endpoint(Endpoint(host: "127.0.0.1", port: 8080))),
        ConfigKey("api.rate_limit", .number(0...1_000_000), default: .number(60)),
        ConfigKey("domains.root", .hostname, required: true),
        ConfigKey("domains.shared", .hostnames),
        ConfigKey("srs.domain", .hostname),
        ConfigKey("srs.secrets", .secrets, required: true),
        ConfigKey("dkim.selector", .text, default: .text("s1")),
        ConfigKey("dkim.keys_dir", .absolutePath, default: .text("/etc/postern/dkim")),
        ConfigKey("dns.resolver", .endpoint(defaultPort: 53), default: .endpoint(Endpoint(host: "127.0.0.1", port: 53))),
        ConfigKey("cluster.heartbeat_interval", .duration, default: .duration(.seconds(5))),
        ConfigKey("cluster.lease_timeout", .duration, default: .duration(.seconds(30))),
        ConfigKey("cluster.auto_failover", .flag, default: .flag(true)),
    ]

    static let byName: [String: ConfigKey] = Dictionary(uniqueKeysWithValues: keys.map { ($0.name, $0) })
    static let sections: Set<String> = Set(keys.map(\.section))
}
