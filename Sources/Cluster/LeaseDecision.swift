/// What a node does about the active role at one heartbeat, given the lease row as the database
/// shows it. Pure: the `ClusterCoordinator` reads the row, asks this, and carries the answer out.
public enum LeaseDecision: Equatable, Sendable {
    /// Keep it: extend the expiry (compare-and-set on holder and epoch).
    case renew
    /// Give it up: singleton work stops first, then the row is released (for a planned failover, a
    /// drain, or a shutdown).
    case release
    /// Take it: compare-and-set on an expired or free row; the epoch grows.
    case acquire
    /// Someone else holds it, or it is being handed to someone else: nothing to do.
    case standBy

    /// The lease row as read.
    public struct Lease: Equatable, Sendable {
        public var holder: String?
        public var epoch: UInt64
        /// The row's expiry has passed, in the database's clock.
        public var expired: Bool
        /// A planned failover in progress, to this node, not yet timed out.
        public var handoffTo: String?

        public init(holder: String?, epoch: UInt64, expired: Bool, handoffTo: String?) {
            self.holder = holder
            self.epoch = epoch
            self.expired = expired
            self.handoffTo = handoffTo
        }
    }

    /// The decision of node `me` (draining or not, and whether it may take the role when the holder
    /// went quiet: `cluster.auto_failover`).
    public static func decide(_ lease: Lease, me: String, draining: Bool, autoFailover: Bool, stopping: Bool = false) -> Self {
        if lease.holder == me {
            if stopping || draining { return .release }
            if let target = lease.handoffTo, target != me { return .release }
            // Expired in the database's clock means another node may already have taken it: the
            // compare-and-set of the renewal tells.
            return .renew
        }
        guard !stopping, !draining else { return .standBy }
        if let target = lease.handoffTo { return target == me && (lease.holder == nil || lease.expired) ? .acquire : .standBy }
        if lease.holder == nil { return .acquire }
        return lease.expired && autoFailover ? .acquire : .standBy
    }
}
