import DNS
import DNSResolver
import Foundation

/// What a mail-authentication check learns from one DNS question.
public enum DNSLookup: Sendable, Equatable {
    /// The records of the type asked for (CNAMEs on the way are left out). Empty: the name exists but
    /// has no record of that type.
    case found([DNSRecord])
    /// NXDOMAIN.
    case noSuchName
    /// No usable answer now (timeout, SERVFAIL, a malformed answer): a temporary error.
    case failed(String)

    /// The records, or none for NXDOMAIN; `nil` for a failure.
    public var records: [DNSRecord]? {
        switch self {
        case .found(let records): records
        case .noSuchName: []
        case .failed: nil
        }
    }

    /// The TXT records, each as its strings joined (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
    public var texts: [String]? {
        records.map { $0.compactMap { if case .txt(let strings) = $0 { strings.joined() } else { nil } } }
    }
}

/// The DNS as SPF, DKIM and DMARC see it. `CachingDNS` asks `dns.resolver`; tests of pure logic
/// give a fixed zone.
public protocol MailAuthDNS: Sendable {
    func lookup(_ name: String, _ type: DNSRecordType) async -> DNSLookup
}

/// Answers from `dns.resolver`, kept for their TTL (at most an hour; "no such name" and "no
/// records" for a minute; failures, and answers with a TTL of 0, for a second).
public actor CachingDNS: MailAuthDNS {
    struct Key: Hashable {
        var name: String
        var type: UInt16
    }

    private let resolver: DNSResolver
    private let now: @Sendable () -> Date
    private var cache: [Key: (expires: Date, lookup: DNSLookup)] = [:]
    private let capacity: Int
    /// How long a failed question (no answer, or SERVFAIL) is remembered before it is asked again:
    /// RFC 2308 §7 allows up to five minutes; one second keeps a resolver that is down from being
    /// asked for every message, and a passing failure from outliving its moment.
    static let failureLifetime: TimeInterval = 1

    /// A cache in front of the resolver at `host:port` (`dns.resolver`).
    public init(host: String, port: Int) { self.init(resolver: DNSResolver(host: host, port: port)) }

    public init(resolver: DNSResolver, capacity: Int = 20_000, now: @escaping @Sendable () -> Date = Date.init) {
        self.resolver = resolver
        self.capacity = capacity
        self.now = now
    }

    public func lookup(_ name: String, _ type: DNSRecordType) async -> DNSLookup {
        let key = Key(name: name.lowercased(), type: type.rawValue)
        let time = now()
        if let hit = cache[key], hit.expires > time { return hit.lookup }
        let (lookup, ttl) = await ask(key.name, type)
        let lifetime = ttl > 0 ? TimeInterval(ttl) : Self.failureLifetime
        if cache.count >= capacity { cache = cache.filter { $0.value.expires > time } }
        if cache.count >= capacity { cache.removeAll(keepingCapacity: true) }
        cache[key] = (time.addingTimeInterval(lifetime), lookup)
        return lookup
    }

    private func ask(_ name: String, _ type: DNSRecordType) async -> (DNSLookup, UInt32) {
        let response: DNSResponse
        do {
            response = try await resolver.query(name, type)
        } catch {
            return (.failed("\(error)"), 0)
        }
        switch response.responseCode {
        case DNSResponse.nameError:
            return (.noSuchName, 60)
        case DNSResponse.noError:
            let wanted = response.answers.filter { $0.record.type == type }
            let ttl = wanted.map(\.ttl).min() ?? 60
            return (.found(wanted.map(\.record)), min(ttl, 3600))
        default:
            return (.failed("the resolver answered with code \(response.responseCode)"), 0)
        }
    }
}

extension DNSRecord {
    /// The type of the record, `nil` for types the decoder does not read.
    public var type: DNSRecordType? {
        switch self {
        case .a: .a
        case .aaaa: .aaaa
        case .cname: .cname
        case .ptr: .ptr
        case .mx: .mx
        case .txt: .txt
        case .other: nil
        }
    }
}
