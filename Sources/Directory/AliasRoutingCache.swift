import Foundation
import MailCore
import Synchronization

/// What RCPT-time lookups found, kept for a few seconds so that a stream of mail to one alias costs
/// one query per `lifetime`, not one per recipient. Unknown addresses are kept too (as nil).
///
/// Kept answers are forgotten when the database's change counter (`routing_changes`) moves: every
/// node reads it each second (`follow(counter:)`), and a change made through this node clears its
/// own answers at once. Over-limit flags are as old as the answer, at most `lifetime`.
public final class AliasRoutingCache: Sendable {
    public let lifetime: TimeInterval
    let capacity: Int

    private struct Kept {
        var routing: AliasRouting?
        var until: TimeInterval
    }

    private struct State {
        var kept: [String: Kept] = [:]
        var counter: UInt64?
        /// Grows with every forgetting: an answer read from the database before it is not kept after.
        var generation: UInt64 = 0
        /// The counter could not be read yet (or not any more): nothing is answered or kept until it
        /// is. A node that starts answers nothing from the cache before its first read, so a change
        /// made elsewhere between a lookup and that read cannot be missed.
        var suspended = true
        var hits = 0
        var misses = 0
    }

    private let state = Mutex(State())

    public init(lifetime: Duration = .seconds(5), capacity: Int = 100_000) {
        self.lifetime = lifetime.timeInterval
        self.capacity = max(1, capacity)
    }

    /// The kept answer for `email` (lower-cased domain, as looked up): `.some(nil)` for a kept
    /// "no such alias", nil when nothing fresh is kept. `counting`: false for a look that may be
    /// followed by the counted one (the caller counts a hit it used with `countHit`).
    public func answer(for email: String, at now: TimeInterval, counting: Bool = true) -> AliasRouting?? {
        state.withLock { state in
            guard !state.suspended, let kept = state.kept[email], kept.until > now else {
                if counting { state.misses += 1 }
                return nil
            }
            if counting { state.hits += 1 }
            return .some(kept.routing)
        }
    }

    public func countHit() {
        state.withLock { $0.hits += 1 }
    }

    /// Where forgetting stands: read before asking the database, handed back to `keep`.
    public var generation: UInt64 { state.withLock { $0.generation } }

    /// Keeps an answer read from the database, unless everything was forgotten since `generation`
    /// was read (the answer may be older than the change that caused it).
    public func keep(_ routing: AliasRouting?, for email: String, at now: TimeInterval, generation: UInt64) {
        state.withLock { state in
            guard state.generation == generation, !state.suspended else { return }
            if state.kept.count >= capacity, state.kept[email] == nil {
                state.kept = state.kept.filter { $0.value.until > now }
                if state.kept.count >= capacity { state.kept.removeAll(keepingCapacity: true) }
            }
            state.kept[email] = Kept(routing: routing, until: now + lifetime)
        }
    }

    public func forgetAll() {
        state.withLock { state in
            state.kept.removeAll(keepingCapacity: true)
            state.generation += 1
        }
    }

    /// The change counter could not be read (the database is unreachable, say): everything kept is
    /// forgotten, and lookups go to the database (and fail there, as they would without a cache)
    /// until it is read again.
    public func suspend() {
        state.withLock { state in
            state.kept.removeAll(keepingCapacity: true)
            state.generation += 1
            state.suspended = true
        }
    }

    /// The change counter as read now: everything kept is forgotten when it moved since the last read.
    /// True when it did.
    @discardableResult
    public func follow(counter: UInt64) -> Bool {
        state.withLock { state in
            defer {
                state.counter = counter
                state.suspended = false
            }
            guard let last = state.counter, last != counter else { return false }
            state.kept.removeAll(keepingCapacity: true)
            state.generation += 1
            return true
        }
    }

    /// Lookups answered from what was kept, those that went to the database, and the change counter
    /// as last read (0 before the first read).
    public var counts: (hits: Int, misses: Int, counter: UInt64) { state.withLock { ($0.hits, $0.misses, $0.counter ?? 0) } }
}
