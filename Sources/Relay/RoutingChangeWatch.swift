import Directory
import Logging
import ServiceLifecycle

/// Reads the database's routing change counter every `interval` and makes the node's alias cache
/// forget what it kept when the counter moved: a change made through another node (or by hand,
/// with the counter raised) reaches this one within about a second. While the counter cannot be
/// read, nothing is answered from the cache: a database outage gives `451 4.3.0` as without one.
public struct RoutingChangeWatch: Service {
    let routing: MailRouting
    let cache: AliasRoutingCache
    let interval: Duration
    let logger: Logger

    public init(routing: MailRouting, cache: AliasRoutingCache, interval: Duration = .seconds(1), logger: Logger) {
        self.routing = routing
        self.cache = cache
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        var unreadable = false
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                cache.follow(counter: try await routing.routingChangeCounter())
                unreadable = false
            } catch {
                cache.suspend()
                if !unreadable { logger.warning("cannot read the routing change counter", metadata: ["error": "\(error)"]) }
                unreadable = true
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
