// swift-tools-version:6.2
import PackageDescription

// The folder tree is the architecture: see docs/architecture.md.
let package = Package(
    name: "Postern",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "postern", targets: ["PosternCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Default traits off: they pull in swift-configuration, which Postern does not use.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // C libraries, imported through their real headers.
        .systemLibrary(
            name: "CMariaDB", pkgConfig: "libmariadb",
            providers: [.apt(["libmariadb-dev"])]),
        .systemLibrary(
            name: "CGPGME", pkgConfig: "gpgme",
            providers: [.apt(["libgpgme-dev"])]),
        .systemLibrary(
            name: "COpenSSL", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]),

        // Pure mail values: addresses, later headers, SRS, DKIM.
        .target(
            name: "MailCore",
            dependencies: [
                "COpenSSL", .product(name: "Crypto", package: "swift-crypto"), .product(name: "CryptoExtras", package: "swift-crypto"),
            ]),
        // SMTP grammar: command parsing, replies, strict framing. Pure: no I/O.
        .target(name: "SMTPCore", dependencies: ["MailCore"]),
        // The SMTP server on NIO: runs SMTPServerSession on a channel, STARTTLS, limits, backpressure.
        .target(
            name: "SMTPServer",
            dependencies: [
                "SMTPCore", "MailCore", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        // The SMTP client on NIO: connections to next hops, pipelining, opportunistic STARTTLS, a pool.
        .target(
            name: "SMTPClient",
            dependencies: [
                "SMTPCore", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]),
        // A DNS client over UDP with TCP fallback, against `dns.resolver`.
        .target(name: "DNSResolver", dependencies: ["DNS"]),
        // The durable queue on disk: fsync'd message files, delivery progress.
        .target(name: "Spool", dependencies: ["MailCore"]),
        // The forwarding rules: RCPT policy, the delivery queue with retries, SRS.
        .target(
            name: "Relay",
            dependencies: [
                "Cluster", "Directory", "MailAuth", "MailCore", "OpenPGP", "SMTPCore", "SMTPClient", "SMTPServer", "Spool", "DNS", "DNSResolver",
                "Storage",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]),
        // Mail authentication: SPF (RFC 7208), DKIM verification (RFC 6376), DMARC (RFC 7489) with a
        // shipped public-suffix list, over a TTL cache of `dns.resolver`'s answers.
        .target(
            name: "MailAuth",
            dependencies: [
                "DNS", "DNSResolver", "MailCore", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            // The public-suffix list, as data compiled into the binary (no bundle to install beside it).
            resources: [.embedInCode("DMARC/public_suffix_rules.txt")]),
        // DNS messages (MX, A, AAAA, TXT) for next-hop lookup and, later, SPF/DKIM/DMARC. Pure: no I/O.
        .target(name: "DNS"),
        // The YAML configuration of a node, with environment overrides and validation.
        .target(
            name: "PosternConfig",
            dependencies: ["Storage", "Yams"]),
        // MariaDB client over Connector/C: connections, pool, prepared statements, migrations.
        .target(
            name: "Storage",
            dependencies: [
                "CMariaDB", .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // The product's records: users, recipients, API tokens.
        .target(
            name: "Directory",
            dependencies: ["Storage", "MailCore", .product(name: "Crypto", package: "swift-crypto")]),
        // The addy.io-compatible REST API (/api/v1), served by Hummingbird.
        .target(
            name: "API",
            dependencies: [
                "Directory", "Storage", "MailCore", "MailAuth", "PosternConfig", "OpenPGP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]),
        // Active/standby nodes: registry and heartbeat, the active lease (fencing by epoch), singleton
        // work, the shared deferred queue in the database.
        .target(
            name: "Cluster",
            dependencies: [
                "Storage", "Spool", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        // Recipients' OpenPGP keys in a GPGME keyring, and encryption to them (natively for RSA and
        // ECDH keys, through GPGME for the rest).
        .target(
            name: "OpenPGP",
            dependencies: [
                "CGPGME", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]),
        // The `postern` executable: argument parsing and wiring only.
        .executableTarget(
            name: "PosternCLI",
            dependencies: [
                "Cluster", "PosternConfig", "Storage", "Directory", "OpenPGP", "MailCore", "MailAuth", "API", "Relay", "SMTPServer", "SMTPCore",
                "SMTPClient", "Spool",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),

        // Shared by the test targets: a throwaway MariaDB server and helpers to run `postern`.
        .target(name: "TestSupport", dependencies: ["Storage"], path: "Tests/TestSupport"),
        .testTarget(name: "SpoolTests", dependencies: ["Spool"]),
        .testTarget(name: "RelayTests", dependencies: [
            "Relay", "MailCore", "SMTPCore", "Spool", "SMTPClient", "TestSupport",
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
        .testTarget(name: "MailFlowTests", dependencies: ["TestSupport", "Storage"]),
        .testTarget(name: "MailCoreTests", dependencies: ["MailCore", "TestSupport"], exclude: ["Corpus"]),
        .testTarget(name: "PosternConfigTests", dependencies: ["PosternConfig"]),
        .testTarget(name: "SMTPCoreTests", dependencies: ["SMTPCore", "MailCore"]),
        .testTarget(name: "DNSTests", dependencies: ["DNS"]),
        .testTarget(name: "MailAuthTests", dependencies: ["MailAuth", "DNS", "MailCore", "TestSupport", "Yams"]),
        .testTarget(name: "DNSResolverTests", dependencies: ["DNSResolver", "DNS", "TestSupport"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "TestSupport"]),
        .testTarget(name: "DirectoryTests", dependencies: ["Directory", "Storage", "TestSupport"]),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster", "Spool", "Storage", "TestSupport"]),
        .testTarget(name: "OpenPGPTests", dependencies: ["OpenPGP", "TestSupport"]),
        .testTarget(
            name: "APITests",
            dependencies: [
                "API", "Directory", "Storage", "MailCore", "PosternConfig", "TestSupport", "Yams",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .testTarget(name: "PosternCLITests", dependencies: ["TestSupport", "Storage", "Directory"]),
    ]
)
