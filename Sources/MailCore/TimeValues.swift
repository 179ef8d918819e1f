import Foundation

extension Duration {
    /// The duration in seconds, with its fraction.
    public var timeInterval: TimeInterval {
        TimeInterval(components.seconds) + TimeInterval(components.attoseconds) / 1e18
    }
}

extension Date {
    /// The instant's calendar fields in UTC (`gmtime_r`), the fraction of its second dropped: cheaper
    /// than a `Calendar` or a `DateFormatter` on the paths every message takes.
    public var utcFields: tm {
        var clock = time_t(timeIntervalSince1970.rounded(.down))
        var fields = tm()
        gmtime_r(&clock, &fields)
        return fields
    }
}
