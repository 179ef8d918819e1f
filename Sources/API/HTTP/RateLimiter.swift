import Foundation
import Synchronization

/// A fixed one-minute window of requests per API token, as Laravel's `throttle:60,1` counts.
final class RateLimiter: Sendable {
    private let limit: Int
    private let window: TimeInterval
    private let counts = Mutex<[String: (windowStart: TimeInterval, count: Int)]>([:])

    init(requestsPerMinute: Int, window: TimeInterval = 60) {
        self.limit = requestsPerMinute
        self.window = window
    }

    /// nil when the request may go ahead; otherwise the seconds until the window opens again.
    func admit(_ key: String, now: TimeInterval = Date().timeIntervalSince1970) -> Int? {
        guard limit > 0 else { return nil }
        return counts.withLock { counts in
            if counts.count > 10_000 { counts = counts.filter { now - $0.value.windowStart < window } }
            var entry = counts[key] ?? (now, 0)
            if now - entry.windowStart >= window { entry = (now, 0) }
            guard entry.count < limit else { return max(1, Int((entry.windowStart + window - now).rounded(.up))) }
            entry.count += 1
            counts[key] = entry
            return nil
        }
    }
}
