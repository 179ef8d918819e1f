import DNS
import MailAuth

/// A fixed zone for the pure tests of SPF, DKIM and DMARC: names map to records, to "no such name"
/// (absent), or to a failure. The checks under test are real; only the network is left out. The
/// end-to-end tests ask a real dnsmasq instead.
struct ZoneDNS: MailAuthDNS {
    var records: [String: [DNSRecord]] = [:]
    /// Names whose every question fails (a timeout, SERVFAIL).
    var failing: Set<String> = []

    func lookup(_ name: String, _ type: DNSRecordType) async -> DNSLookup {
        let key = name.lowercased().hasSuffix(".") ? String(name.lowercased().dropLast()) : name.lowercased()
        if failing.contains(key) { return .failed("timeout") }
        guard let all = records[key] else { return .noSuchName }
        return .found(all.filter { $0.type == type })
    }
}
