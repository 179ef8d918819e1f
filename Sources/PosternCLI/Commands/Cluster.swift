import ArgumentParser
import Cluster
import Foundation
import MailCore
import PosternConfig
import Storage

/// `postern node list`: every node that has run against the database.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "The nodes sharing this database.", subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One line per node: name, role, state, last heartbeat, queue depth, SMTP address, version.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await reportingFailures {
                let config = try global.loadConfig()
                try await global.withPool(config) { pool in
                    let nodes = try await NodeRegistry(pool: pool).list()
                    let shared = try await SharedDeferredQueue(pool: pool, node: config.node.name).count()
                    for node in nodes {
                        let alive = node.silentFor <= config.cluster.leaseTimeout.timeInterval
                        let state = alive ? node.state : (node.state == "stopped" ? "stopped" : "silent")
                        print("\(node.name)  \(node.isActive ? "active" : "standby")  \(state)\(node.drainRequested ? " (drain requested)" : "")  "
                            + "heartbeat=\(QueueCommand.timeFormat.string(from: node.lastHeartbeat)) (\(String(format: "%.1f", node.silentFor))s ago)  "
                            + "queue=\(node.queueDepth)  smtp=\(node.smtpAddress ?? "-")  version=\(node.version ?? "-")")
                    }
                    print("\(nodes.count) node(s); \(shared) message(s) in the shared deferred queue")
                }
            }
        }
    }
}

/// `postern failover [--to NODE]`: a planned move of the active role, confirmed by the new holder.
struct Failover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Hand the active role to another node and wait until it has taken it.")
    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "The node to hand the role to (default: the other live node).") var to: String?

    func run() async throws {
        try await reportingFailures {
            let config = try global.loadConfig()
            try await global.withPool(config) { pool in
                let registry = NodeRegistry(pool: pool)
                let lease = ActiveLease(pool: pool)
                let nodes = try await registry.list()
                let timeout = config.cluster.leaseTimeout
                let live = nodes.filter { $0.silentFor <= timeout.timeInterval && $0.state != "stopped" }
                let holder = try await lease.read().lease.holder
                let target: String
                if let to {
                    guard let node = nodes.first(where: { $0.name == to }) else { throw ClusterError.unknownNode(to) }
                    guard live.contains(where: { $0.name == to }) else {
                        throw CLIFailure("node \(to) has not sent a heartbeat for \(Int(node.silentFor))s: it cannot take the role")
                    }
                    guard !node.drainRequested else { throw CLIFailure("node \(to) is draining: undrain it first") }
                    target = to
                } else {
                    guard let other = live.first(where: { $0.name != holder && !$0.drainRequested }) else { throw ClusterError.noOtherNode }
                    target = other.name
                }
                if holder == target {
                    print("\(target) is already active")
                    return
                }
                // The holder gives the role up at its next heartbeat; the target takes it at its own.
                let within = timeout * 2
                try await lease.requestHandoff(to: target, within: within)
                print("asked \(holder ?? "nobody") to hand the active role to \(target)…")
                let end = ContinuousClock.now + within
                while ContinuousClock.now < end {
                    let (row, _) = try await lease.read()
                    if row.holder == target, !row.expired {
                        print("\(target) is active (epoch \(row.epoch))")
                        return
                    }
                    try await Task.sleep(for: .milliseconds(200))
                }
                throw ClusterError.timedOut("\(target) did not take the active role within \(within.timeInterval)s")
            }
        }
    }
}

/// `postern drain [--node N]`: 421 to new sessions, in-flight mail finished, the local queue moved to
/// the shared queue; returns when the node reports it is empty.
struct Drain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Empty a node for maintenance: it refuses new sessions (421) and hands its queue over.")
    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "The node to drain (default: this configuration's node.name).") var node: String?
    @Option(name: .long, help: "How long to wait for the node to report empty, in seconds.") var wait: Int = 600

    func run() async throws {
        try await reportingFailures {
            let config = try global.loadConfig()
            let name = node ?? config.node.name
            try await global.withPool(config) { pool in
                let registry = NodeRegistry(pool: pool)
                guard try await registry.requestDrain(name, true) else { throw ClusterError.unknownNode(name) }
                let others = try await registry.list().filter {
                    $0.name != name && !$0.drainRequested && $0.silentFor <= config.cluster.leaseTimeout.timeInterval
                }
                if others.isEmpty { print("warning: no other live node: mail will wait until a node takes it again") }
                print("draining \(name)…")
                let end = ContinuousClock.now + .seconds(wait)
                var last = -1
                while ContinuousClock.now < end {
                    guard let entry = try await registry.list().first(where: { $0.name == name }) else { throw ClusterError.unknownNode(name) }
                    if entry.state == "drained" {
                        print("\(name) is drained: its queue is empty, it refuses new sessions")
                        return
                    }
                    if entry.queueDepth != last {
                        print("\(name): \(entry.state), \(entry.queueDepth) message(s) queued")
                        last = entry.queueDepth
                    }
                    if entry.silentFor > config.cluster.leaseTimeout.timeInterval {
                        throw CLIFailure("node \(name) sends no heartbeat: it is not running, so it cannot drain (its request stays)")
                    }
                    try await Task.sleep(for: .milliseconds(200))
                }
                throw ClusterError.timedOut("\(name) did not report empty within \(wait)s")
            }
        }
    }
}

struct Undrain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Let a drained node take mail again.")
    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "The node (default: this configuration's node.name).") var node: String?

    func run() async throws {
        try await reportingFailures {
            let config = try global.loadConfig()
            let name = node ?? config.node.name
            try await global.withPool(config) { pool in
                guard try await NodeRegistry(pool: pool).requestDrain(name, false) else { throw ClusterError.unknownNode(name) }
                print("\(name) takes mail again from its next heartbeat")
            }
        }
    }
}

extension GlobalOptions {
    /// Runs `body` with a one-connection pool, closed afterwards.
    func withPool(_ config: NodeConfig, _ body: (ConnectionPool) async throws -> Void) async throws {
        let pool = openPool(config, maxConnections: 1)
        do {
            try await body(pool)
        } catch {
            await pool.close()
            throw error
        }
        await pool.close()
    }
}
