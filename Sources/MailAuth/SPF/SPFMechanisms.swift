import DNS

/// Whether one mechanism matches the client (RFC 7208 §5). The caller has counted it against the
/// DNS limit already.
extension SPFEvaluator {
    static let mxNameLimit = 10
    static let ptrNameLimit = 10

    func matches(_ mechanism: SPFRecord.Mechanism, domain: String, _ context: SPFContext, _ budget: inout SPFBudget)
        async throws(SPFAbort) -> Bool
    {
        let ip = context.ip
        switch mechanism {
        case .all:
            return true
        case .ip4(let network, let length), .ip6(let network, let length):
            return ip.isIn(network, prefixLength: length)
        case .include(let spec):
            // §5.2: only a pass matches; an error or a missing record there is an error here.
            guard let target = await targetName(spec, domain: domain, context) else {
                throw .permerror("the include of \(domain) is not a domain name")
            }
            let outcome = await evaluate(domain: target, context, &budget)
            switch outcome.result {
            case .pass: return true
            case .fail, .softfail, .neutral: return false
            case .temperror: throw .temperror(outcome.reason)
            case .permerror: throw .permerror(outcome.reason)
            case .none: throw .permerror("include:\(target) has no SPF record")
            }
        case .a(let spec, let cidr):
            guard let target = await optionalTarget(spec, domain: domain, context) else { return false }
            let addresses = try await addresses(of: target, family: ip, &budget, countingVoid: true)
            return addresses.contains { ip.isIn($0, prefixLength: cidr.length(for: ip)) }
        case .mx(let spec, let cidr):
            guard let target = await optionalTarget(spec, domain: domain, context) else { return false }
            return try await mxMatches(target, cidr.length(for: ip), ip, &budget)
        case .ptr(let spec):
            guard let target = await optionalTarget(spec, domain: domain, context) else { return false }
            let names = try await validatedNames(of: ip, &budget, accepting: { SPFDomainName.isWithin($0, target) })
            return !names.isEmpty
        case .exists(let spec):
            // §5.7: an A lookup whatever the client's family.
            guard let target = await targetName(spec, domain: domain, context) else { return false }
            return try await !addresses(of: target, family: .v4([0, 0, 0, 0]), &budget, countingVoid: true).isEmpty
        }
    }

    /// The target of a/mx/ptr: the domain-spec given, or the current domain.
    private func optionalTarget(_ spec: SPFMacroString?, domain: String, _ context: SPFContext) async -> String? {
        guard let spec else { return domain }
        return await targetName(spec, domain: domain, context)
    }

    /// The A or AAAA records of `name`, as `family` asks; a failure is a temperror.
    private func addresses(of name: String, family: IPAddress, _ budget: inout SPFBudget, countingVoid: Bool)
        async throws(SPFAbort) -> [IPAddress]
    {
        let type: DNSRecordType = family.isIPv4 ? .a : .aaaa
        guard let records = await dns.lookup(name, type).records else {
            throw .temperror("the \(family.isIPv4 ? "A" : "AAAA") lookup of \(name) failed")
        }
        if records.isEmpty, countingVoid { try budget.noteVoidLookup() }
        return records.compactMap {
            switch $0 {
            case .a(let bytes) where bytes.count == 4: .v4(bytes)
            case .aaaa(let bytes) where bytes.count == 16: .v6(bytes)
            default: nil
            }
        }
    }

    /// §5.4: the exchanges of `target` (at most ten, more is a permerror), each by its addresses.
    private func mxMatches(_ target: String, _ length: Int, _ ip: IPAddress, _ budget: inout SPFBudget)
        async throws(SPFAbort) -> Bool
    {
        guard let records = await dns.lookup(target, .mx).records else {
            throw .temperror("the MX lookup of \(target) failed")
        }
        if records.isEmpty { try budget.noteVoidLookup() }
        let exchanges = records.compactMap { if case .mx(_, let exchange) = $0 { exchange } else { nil } }
        guard exchanges.count <= Self.mxNameLimit else {
            throw .permerror("\(target) has more than \(Self.mxNameLimit) MX records")
        }
        for exchange in exchanges {
            // A null MX (".", RFC 7505) names no host.
            guard let name = SPFDomainName.checked(exchange) else { continue }
            let addresses = try await addresses(of: name, family: ip, &budget, countingVoid: false)
            if addresses.contains(where: { ip.isIn($0, prefixLength: length) }) { return true }
        }
        return false
    }

    /// §5.5: the names of the first ten PTR records of `ip` that `accepting` takes and whose own
    /// addresses include `ip`. A failed PTR lookup gives none; a name whose lookup fails is skipped.
    func validatedNames(of ip: IPAddress, _ budget: inout SPFBudget, accepting: (String) -> Bool)
        async throws(SPFAbort) -> [String]
    {
        guard let records = await dns.lookup(ip.reverseName, .ptr).records else { return [] }
        if records.isEmpty { try budget.noteVoidLookup() }
        let names = records.compactMap { if case .ptr(let name) = $0 { SPFDomainName.checked(name) } else { nil } }
        var validated: [String] = []
        for name in names.prefix(Self.ptrNameLimit) where accepting(name) {
            let type: DNSRecordType = ip.isIPv4 ? .a : .aaaa
            guard let addresses = await dns.lookup(name, type).records else { continue }
            let matching = addresses.contains {
                switch $0 {
                case .a(let bytes), .aaaa(let bytes): bytes == ip.bytes
                default: false
                }
            }
            if matching { validated.append(name) }
        }
        return validated
    }
}

extension SPFRecord.DualCIDR {
    func length(for ip: IPAddress) -> Int { ip.isIPv4 ? ipv4 : ipv6 }
}

extension IPAddress {
    /// The name of its PTR records: `4.3.2.1.in-addr.arpa` or nibbles under `ip6.arpa`.
    var reverseName: String {
        switch self {
        case .v4(let bytes):
            return bytes.reversed().map(String.init).joined(separator: ".") + ".in-addr.arpa"
        case .v6:
            return nibbles.reversed().joined(separator: ".") + ".ip6.arpa"
        }
    }

    /// The hex digits of the address, most significant first.
    var nibbles: [String] {
        bytes.flatMap { [String($0 >> 4, radix: 16), String($0 & 0x0f, radix: 16)] }
    }
}
