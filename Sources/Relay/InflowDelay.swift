import Spool

/// The bookkeeping of the delivery queue's in-flow delay, after Postfix's `in_flow_delay`: mail coming
/// in faster than it goes out. When more new messages wait to start than there are places, the
/// session that brought the last one waits (its message is already on disk) until the line is back to
/// the number of places, or for at most `DeliveryQueue.Settings.inflowDelay`, and then answers 250
/// anyway. Without it, attempts (which run at a lower priority, `DeliveryThreads`) could get too little
/// CPU from sessions that keep a machine busy, and accepted mail would pile up in memory. The wait is
/// bounded so that a next hop that hangs slows clients down but never makes them time out and send
/// again.
///
/// Only retries are left out of the count: a line of them after an outage must not slow new mail.
struct InflowDelay {
    /// New mail in the queue's line, not started yet.
    private var waiting: Set<QueueID> = []
    /// Sessions held back, by the order they came in.
    private var held: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextHold = 0

    mutating func arrived(_ id: QueueID) { waiting.insert(id) }

    /// `id` left the line (started, or found gone): called for every message taken from it.
    mutating func leftTheLine(_ id: QueueID) { waiting.remove(id) }

    /// More new mail waits than there are `places`: the session that brought the last should wait.
    func isBehind(places: Int) -> Bool { waiting.count > places }

    /// Keeps a session's continuation; the number to release it by.
    mutating func hold(_ session: CheckedContinuation<Void, Never>) -> Int {
        defer { nextHold += 1 }
        held[nextHold] = session
        return nextHold
    }

    /// The session held as `number`, if it still is.
    mutating func release(_ number: Int) -> CheckedContinuation<Void, Never>? {
        held.removeValue(forKey: number)
    }

    /// Every session held, in the order they came, once the line is back to `places` (nil: at once).
    mutating func releaseAll(places: Int? = nil) -> [CheckedContinuation<Void, Never>] {
        guard !held.isEmpty, places.map({ !isBehind(places: $0) }) ?? true else { return [] }
        defer { held = [:] }
        return held.keys.sorted().compactMap { held[$0] }
    }
}
