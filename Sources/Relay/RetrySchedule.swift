/// When to try a deferred message again: Postfix-like exponential backoff, from `first` doubling up
/// to `maximum`, and giving up once the message is older than `lifetime`.
public struct RetrySchedule: Sendable, Equatable {
    public var first: Duration
    public var maximum: Duration
    public var lifetime: Duration

    public init(first: Duration, maximum: Duration, lifetime: Duration) {
        self.first = first
        self.maximum = maximum
        self.lifetime = lifetime
    }

    /// The wait after the `attempts`-th failed attempt (1 for the first).
    public func delay(afterAttempt attempts: Int) -> Duration {
        var delay = first
        for _ in 1..<max(1, attempts) {
            delay *= 2
            if delay >= maximum { return maximum }
        }
        return min(delay, maximum)
    }

    /// Whether a message received `age` ago has run out of time.
    public func expired(age: Duration) -> Bool { age >= lifetime }
}
