import PosternConfig
import Testing

@Suite struct ConfigLoaderTests {
    static let specExample = """
        node:     { name: mx1, hostname: mx1.relay.example }
        database: { url: "mariadb://postern:secret@db.internal:3306/postern" }
        smtp:     { listen: "0.0.0.0:25", max_message_size: 26214400,
                    tls_certificate: /etc/postern/tls.crt, tls_key: /etc/postern/tls.key }
        delivery: { relay_host: "127.0.0.1:2626" }
        spool:    { path: /var/spool/postern }
        api:      { listen: "127.0.0.1:8080" }
        domains:  { root: relay.example, shared: [relay.example] }
        srs:      { domain: relay.example, secrets: ["newest signs", "older ones still verify"] }
        dkim:     { selector: s1, keys_dir: /etc/postern/dkim }
        dns:      { resolver: "127.0.0.1:53" }
        cluster:  { heartbeat_interval: 5s, lease_timeout: 30s, auto_failover: true }
        """

    static let minimal = """
        node: { name: mx1 }
        database: { url: "mariadb://u@localhost/db?socket=/run/mysqld/mysqld.sock" }
        domains: { root: relay.example }
        srs: { secrets: [s] }
        """

    func problems(_ yaml: String, _ environment: [String: String] = [:]) -> [String] {
        do {
            _ = try ConfigLoader.parse(yaml: yaml, environment: environment)
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }

    @Test func readsTheSpecExample() throws {
        let config = try ConfigLoader.parse(yaml: Self.specExample, environment: [:])
        #expect(config.node.name == "mx1")
        #expect(config.node.hostname == "mx1.relay.example")
        #expect(config.database.url.user == "postern")
        #expect(config.database.url.password == "secret")
        #expect(config.database.url.host == "db.internal")
        #expect(config.database.url.database == "postern")
        #expect(config.smtp.listen == Endpoint(host: "0.0.0.0", port: 25))
        #expect(config.smtp.maxMessageSize == 26_214_400)
        #expect(config.smtp.tlsKey == "/etc/postern/tls.key")
        #expect(config.delivery.relayHost == Endpoint(host: "127.0.0.1", port: 2626))
        #expect(config.srs.secrets == ["newest signs", "older ones still verify"])
        #expect(config.cluster.leaseTimeout == .seconds(30))
        #expect(config.cluster.autoFailover)
    }

    @Test func fillsDefaultsForOptionalKeys() throws {
        let config = try ConfigLoader.parse(yaml: Self.minimal, environment: [:])
        #expect(config.node.hostname == "mx1")
        #expect(config.database.url.socketPath == "/run/mysqld/mysqld.sock")
        #expect(config.smtp.listen == Endpoint(host: "0.0.0.0", port: 25))
        #expect(config.delivery.relayHost == nil)
        #expect(config.delivery.firstRetry == .seconds(300))
        #expect(config.delivery.maxLifetime == .seconds(5 * 86_400))
        #expect(config.domains.shared == ["relay.example"])
        #expect(config.srs.domain == "relay.example")
        #expect(config.dnsResolver == Endpoint(host: "127.0.0.1", port: 53))
        #expect(config.cluster.heartbeatInterval == .seconds(5))
    }

    @Test func reportsEveryBadValueOnItsOwnLineNamingTheKey() {
        let yaml = """
            node: { name: "bad name!" }
            database: { url: "postgres://x@y/z" }
            smtp: { listen: "nowhere", max_message_size: lots, tls_certificate: relative.crt }
            delivery: { relay_host: "host:99999" }
            domains: { root: relay.example, shared: relay.example }
            srs: { secrets: [] }
            cluster: { heartbeat_interval: 5, auto_failover: maybe }
            """
        let found = problems(yaml)
        let expectedKeys = [
            "node.name", "database.url", "smtp.listen", "smtp.max_message_size", "smtp.tls_certificate",
            "delivery.relay_host", "domains.shared", "srs.secrets", "cluster.heartbeat_interval",
            "cluster.auto_failover",
        ]
        #expect(found.count == expectedKeys.count, "\(found)")
        for key in expectedKeys {
            #expect(found.contains { $0.hasPrefix(key + ": ") }, "no line for \(key) in \(found)")
        }
        #expect(found.allSatisfy { !$0.contains("\n") })
    }

    @Test func unknownKeysAndSectionsAreErrors() {
        let found = problems(Self.minimal + "\nsmtp: { listen: \"127.0.0.1:25\", lisen: x }\nlogging: { level: debug }\n")
        #expect(found == ["smtp.lisen: unknown key", "logging: unknown section"])
    }

    @Test func missingRequiredKeysAreNamed() {
        #expect(problems("") == [
            "node.name: is required", "database.url: is required", "domains.root: is required",
            "srs.secrets: is required",
        ])
    }

    @Test func malformedYAMLIsOneProblem() {
        let found = problems("node: { name: [unclosed")
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("yaml: not valid YAML") == true)
    }

    @Test func crossKeyRules() {
        let yaml = Self.minimal + """

            smtp: { listen: "127.0.0.1:8080", tls_certificate: /etc/tls.crt }
            api: { listen: "127.0.0.1:8080" }
            cluster: { heartbeat_interval: 20s, lease_timeout: 30s }
            delivery: { first_retry: 1h, max_retry_interval: 5m }
            """
        #expect(Set(problems(yaml)) == [
            "smtp.tls_key: is required when the other TLS file is set",
            "cluster.lease_timeout: must be more than twice cluster.heartbeat_interval",
            "delivery.max_retry_interval: must not be shorter than delivery.first_retry",
            "api.listen: is the same address as smtp.listen",
        ])
    }

    @Test func environmentOverridesTheFile() throws {
        let config = try ConfigLoader.parse(yaml: Self.specExample, environment: [
            "POSTERN_DATABASE_URL": "mariadb://other:pw@db2:3307/p2",
            "POSTERN_SMTP_MAX_MESSAGE_SIZE": "1048576",
            "POSTERN_SRS_SECRETS": "[\"a,b\", c]",
            "POSTERN_DOMAINS_SHARED": "one.example, two.example",
            "POSTERN_CLUSTER_AUTO_FAILOVER": "false",
            "POSTERN_CONFIG": "/elsewhere.yaml",
            "POSTERN_TEST_DATABASE_URL": "not a key",
        ])
        #expect(config.database.url.host == "db2")
        #expect(config.database.url.port == 3307)
        #expect(config.smtp.maxMessageSize == 1_048_576)
        #expect(config.srs.secrets == ["a,b", "c"])
        #expect(config.domains.shared == ["one.example", "two.example"])
        #expect(config.cluster.autoFailover == false)
    }

    @Test func environmentValuesAreValidatedAndTyposNamed() {
        let found = problems(Self.minimal, ["POSTERN_SMTP_LISTEN": "bad", "POSTERN_SMTP_LISTN": "127.0.0.1:25"])
        #expect(found == ["POSTERN_SMTP_LISTN: no such configuration key", "smtp.listen: 'bad' is not host:port"])
    }

    @Test func secretsNeverAppearInDescriptions() throws {
        let config = try ConfigLoader.parse(yaml: Self.specExample, environment: [:])
        let dump = "\(config) \(String(reflecting: config))"
        #expect(!dump.contains("newest signs"))
        #expect(!dump.contains("secret@"))
    }

    @Test(arguments: [("500ms", 500), ("30s", 30_000), ("5m", 300_000), ("2h", 7_200_000), ("5d", 432_000_000)])
    func parsesDurations(text: String, milliseconds: Int64) {
        #expect(DurationText.parse(text) == .milliseconds(milliseconds))
    }

    @Test(arguments: ["", "5", "s", "-5s", "1.5s", "5 s", "5w", "ms"])
    func rejectsBadDurations(text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test func endpoints() {
        #expect(Endpoint(parsing: "[::1]:25") == Endpoint(host: "::1", port: 25))
        #expect(Endpoint(parsing: "mx.example", defaultPort: 25) == Endpoint(host: "mx.example", port: 25))
        #expect(Endpoint(parsing: "mx.example") == nil)
        #expect(Endpoint(parsing: "::1:25") == nil)
        #expect(Endpoint(parsing: "h:0") == nil)
    }
}
