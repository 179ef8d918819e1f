import DNS

/// DMARC (RFC 7489): finds the policy of the RFC 5322.From domain and checks that SPF or DKIM passed
/// for a domain aligned with it.
///
/// Policy discovery (§6.6.3): the TXT records at `_dmarc.FROM`, those not starting with `v=DMARC1`
/// ignored; with none, the same at `_dmarc.ORGDOMAIN`. Several records, or none at either name: no
/// policy, result `none`. A failed lookup: `temperror`. `sp=` applies when the record was found at the
/// Organizational Domain for a From domain below it.
///
/// The result is `pass` when SPF passed for a domain aligned with From (`aspf=`) or any DKIM signature
/// passed with an aligned `d=` (`adkim=`): relaxed alignment compares Organizational Domains, strict
/// ones the domains themselves. Otherwise `fail`, and `pct=` decides, by `sample`, whether the policy
/// applies as published or one step lower (reject → quarantine, quarantine → none).
public struct DMARCEvaluator: Sendable {
    private let dns: any MailAuthDNS
    private let publicSuffixes: PublicSuffixList
    private let sample: @Sendable (Int) -> Bool

    public init(dns: any MailAuthDNS, publicSuffixes: PublicSuffixList = .shipped,
                sample: @escaping @Sendable (Int) -> Bool = { pct in Int.random(in: 0..<100) < pct })
    {
        self.dns = dns
        self.publicSuffixes = publicSuffixes
        self.sample = sample
    }

    public func evaluate(fromDomain: String, spf: SPFVerdict?, dkim: [DKIMVerdict]) async -> DMARCVerdict {
        let from = Self.normalized(fromDomain)
        guard DKIMSignature.isDomainName(from) else {
            return DMARCVerdict(result: .permerror, fromDomain: fromDomain, policy: nil, reason: "the From domain is not a domain name")
        }
        let organizational = publicSuffixes.organizationalDomain(of: from)

        // Policy discovery.
        var record: DMARCRecord?
        var foundAtOrganization = false
        switch await discover("_dmarc." + from) {
        case .failure(let failure):
            return DMARCVerdict(result: .temperror, fromDomain: from, policy: nil, reason: failure.reason)
        case .success(.some(let texts)):
            guard texts.count == 1 else { return Self.noPolicy(from, "several DMARC records at _dmarc.\(from)") }
            record = DMARCRecord(texts[0])
        case .success(.none):
            guard organizational != from else { return Self.noPolicy(from, "no DMARC record") }
            switch await discover("_dmarc." + organizational) {
            case .failure(let failure):
                return DMARCVerdict(result: .temperror, fromDomain: from, policy: nil, reason: failure.reason)
            case .success(.none):
                return Self.noPolicy(from, "no DMARC record")
            case .success(.some(let texts)):
                guard texts.count == 1 else {
                    return Self.noPolicy(from, "several DMARC records at _dmarc.\(organizational)")
                }
                record = DMARCRecord(texts[0])
                foundAtOrganization = true
            }
        }
        guard let record else { return Self.noPolicy(from, "the DMARC record has no valid p= and no rua=") }
        let published = foundAtOrganization ? (record.subdomainPolicy ?? record.policy) : record.policy
        let source = foundAtOrganization ? "_dmarc.\(organizational)" : "_dmarc.\(from)"

        // Identifier alignment (§3.1).
        if let spf, spf.result == .pass, aligned(spf.domain, from, record.spfAlignment) {
            return DMARCVerdict(result: .pass, fromDomain: from, policy: published,
                                reason: "SPF passed for \(Self.normalized(spf.domain)) (\(source))")
        }
        if let signature = dkim.first(where: { $0.result == .pass && aligned($0.domain, from, record.dkimAlignment) }) {
            return DMARCVerdict(result: .pass, fromDomain: from, policy: published,
                                reason: "DKIM passed for d=\(Self.normalized(signature.domain)) (\(source))")
        }

        var applied = published
        var reason = "no aligned SPF or DKIM pass (\(source))"
        if record.percent < 100, !sample(record.percent) {
            applied = Self.lower(published)
            reason += "; not sampled at pct=\(record.percent), so \(applied.rawValue) instead of \(published.rawValue)"
        }
        if record.readAsMonitoring { reason += "; the record's policy is invalid, read as p=none" }
        return DMARCVerdict(result: .fail, fromDomain: from, policy: applied, reason: reason)
    }

    /// The DMARC records at `name`: `nil` when there are none, a failure when DNS did not answer.
    private func discover(_ name: String) async -> Result<[String]?, DiscoveryFailure> {
        switch await dns.lookup(name, .txt) {
        case .failed(let reason): return .failure(DiscoveryFailure(reason: "\(name) could not be looked up: \(reason)"))
        case .noSuchName: return .success(nil)
        case .found(let records):
            let texts = (DNSLookup.found(records).texts ?? []).filter(DMARCRecord.isDMARC)
            return .success(texts.isEmpty ? nil : texts)
        }
    }

    private struct DiscoveryFailure: Error {
        var reason: String
    }

    private func aligned(_ domain: String, _ from: String, _ mode: DMARCRecord.Alignment) -> Bool {
        let domain = Self.normalized(domain)
        guard !domain.isEmpty else { return false }
        switch mode {
        case .strict: return domain == from
        case .relaxed: return publicSuffixes.organizationalDomain(of: domain) == publicSuffixes.organizationalDomain(of: from)
        }
    }

    private static func noPolicy(_ from: String, _ reason: String) -> DMARCVerdict {
        DMARCVerdict(result: .none, fromDomain: from, policy: nil, reason: reason)
    }

    /// The next lower policy, for messages `pct=` leaves out (§6.6.4).
    private static func lower(_ policy: DMARCPolicy) -> DMARCPolicy {
        switch policy {
        case .reject: .quarantine
        case .quarantine, .none: .none
        }
    }

    static func normalized(_ domain: String) -> String {
        var name = domain.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        return name
    }
}
