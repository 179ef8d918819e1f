import API
import ArgumentParser
import Logging
import PosternConfig
import ServiceLifecycle
import Storage

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
            let node = NodeService(config: config, logger: logger)
            let api = APIServer.application(pool: pool, config: config, logger: Logger(label: "postern.api"))
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: [.init(service: node), .init(service: api)], gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: logger))
            try await group.run()
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
