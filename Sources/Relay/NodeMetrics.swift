import Synchronization

/// The counters a node exports on /metrics (Prometheus text format): what was accepted, refused
/// (by reason), delivered, deferred and failed, and how deep the queue is.
public final class NodeMetrics: Sendable {
    private struct Counts {
        var accepted = 0
        var rejected: [String: Int] = [:]
        var delivered = 0
        var deferred = 0
        var failed = 0
        var queueDepth = 0
        var active = 0
        var movedToShared = 0
        var takenFromShared = 0
        var heldBack = 0
    }

    private let counts = Mutex(Counts())

    public init() {}

    func accepted() { counts.withLock { $0.accepted += 1 } }
    func rejected(_ reason: RecipientPolicy.Reason) { counts.withLock { $0.rejected[reason.rawValue, default: 0] += 1 } }
    func delivered(_ n: Int = 1) { counts.withLock { $0.delivered += n } }
    func deferred(_ n: Int = 1) { counts.withLock { $0.deferred += n } }
    func failed(_ n: Int = 1) { counts.withLock { $0.failed += n } }
    func setQueueDepth(_ depth: Int) { counts.withLock { $0.queueDepth = depth } }
    func setActive(_ active: Bool) { counts.withLock { $0.active = active ? 1 : 0 } }
    func movedToShared() { counts.withLock { $0.movedToShared += 1 } }
    func takenFromShared() { counts.withLock { $0.takenFromShared += 1 } }
    func heldBack() { counts.withLock { $0.heldBack += 1 } }

    public var queueDepth: Int { counts.withLock { $0.queueDepth } }

    /// The exposition text: `# HELP`, `# TYPE`, then samples. `aliasCache`: the alias cache's counts,
    /// when the node has one.
    public func prometheusText(aliasCache: (hits: Int, misses: Int, counter: UInt64)? = nil) -> String {
        let c = counts.withLock { $0 }
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, Int)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { out += "\(name)\(labels) \(value)\n" }
        }
        metric("postern_messages_accepted_total", "counter", "Messages accepted with 250 after DATA.", [("", c.accepted)])
        let reasons = RecipientPolicy.Reason.allCases.filter { $0 != .accepted }
        metric("postern_recipients_rejected_total", "counter", "Recipients refused or dropped at RCPT, by reason.",
               reasons.map { ("{reason=\"\($0.rawValue)\"}", c.rejected[$0.rawValue] ?? 0) })
        metric("postern_deliveries_delivered_total", "counter", "Copies accepted by the next hop.", [("", c.delivered)])
        metric("postern_deliveries_deferred_total", "counter", "Delivery attempts that failed temporarily.", [("", c.deferred)])
        metric("postern_deliveries_failed_total", "counter", "Copies given up (5xx or expired).", [("", c.failed)])
        metric("postern_queue_depth", "gauge", "Messages in this node's queue.", [("", c.queueDepth)])
        metric("postern_cluster_active", "gauge", "1 while this node holds the active role.", [("", c.active)])
        metric("postern_shared_queue_moved_total", "counter", "Deferred messages moved to the shared deferred queue.",
               [("", c.movedToShared)])
        metric("postern_shared_queue_taken_total", "counter", "Messages taken from the shared deferred queue to retry here.",
               [("", c.takenFromShared)])
        metric("postern_sessions_held_back_total", "counter",
               "Times a session waited before its 250 because new mail was waiting to be delivered (in-flow delay).",
               [("", c.heldBack)])
        if let aliasCache {
            metric("postern_alias_cache_lookups_total", "counter", "RCPT-time alias lookups, answered from the cache (hit) or the database (miss).",
                   [("{result=\"hit\"}", aliasCache.hits), ("{result=\"miss\"}", aliasCache.misses)])
            metric("postern_routing_changes_seen", "gauge", "The database's routing change counter as this node last read it.",
                   [("", Int(truncatingIfNeeded: aliasCache.counter))])
        }
        return out
    }
}
