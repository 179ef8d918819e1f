/// A server to hand mail to.
public struct NextHop: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { "\(host):\(port)" }
}

/// Finds where mail for a domain goes, in order of preference.
public protocol NextHopResolver: Sendable {
    /// The hops to try in order. Throws `NextHopFailure`.
    func hops(for domain: String) async throws -> [NextHop]
}

public enum NextHopFailure: Error, Equatable, CustomStringConvertible {
    /// Try again later (the resolver did not answer, SERVFAIL).
    case temporary(String)
    /// The domain does not receive mail (NXDOMAIN, null MX).
    case permanent(String)

    public var description: String {
        switch self {
        case .temporary(let text), .permanent(let text): text
        }
    }
}

/// Every message goes to one smart host (`delivery.relay_host`).
public struct RelayHost: NextHopResolver {
    public let hop: NextHop

    public init(_ hop: NextHop) { self.hop = hop }

    public func hops(for domain: String) async throws -> [NextHop] { [hop] }
}
