import Foundation
import DNS

/// The DNS checks of a user's own domain, each with what to fix when it fails:
///
/// - **ownership**: a TXT record at the domain holds the value Postern gave (`postern-verify=…`);
/// - **MX**: the domain's mail servers are all the relay's hosts;
/// - **sending**: SPF lets every address of the relay's hosts send for the domain, the DKIM key Postern
///   signs with is published at `SELECTOR._domainkey.DOMAIN`, and a DMARC record exists.
public struct CustomDomainCheck: Sendable {
    public struct Outcome: Sendable, Equatable {
        public var ownership: Bool
        public var mx: Bool
        public var sending: Bool
        /// Per failed check (`ownership`, `mx`, `spf`, `dkim`, `dmarc`), what is wrong.
        public var problems: [String: String]
    }

    let dns: any MailAuthDNS
    let spf: SPFEvaluator

    public init(dns: any MailAuthDNS, hostname: String) {
        self.dns = dns
        spf = SPFEvaluator(dns: dns, receivingHost: hostname)
    }

    /// - Parameters:
    ///   - verificationRecord: the TXT value that proves ownership.
    ///   - relayHosts: the host names of the relay's nodes (their MX names).
    ///   - dkimRecord: the `v=DKIM1; k=…; p=…` record of the key mail for the domain is signed with;
    ///     nil when there is none.
    public func check(domain: String, verificationRecord: String, relayHosts: [String], dkimSelector: String,
                      dkimRecord: String?) async -> Outcome {
        var problems: [String: String] = [:]
        let texts = await dns.lookup(domain, .txt).texts
        let ownership = !verificationRecord.isEmpty
            && (texts?.contains { $0.trimmingCharacters(in: .whitespaces) == verificationRecord } ?? false)
        if !ownership { problems["ownership"] = "publish a TXT record at \(domain) with the value \(verificationRecord)" }

        let hosts = Set(relayHosts.map(Self.normalised))
        var mx = false
        switch await dns.lookup(domain, .mx) {
        case .found(let records):
            let exchanges = records.compactMap { if case .mx(_, let exchange) = $0 { Self.normalised(exchange) } else { nil } }
            mx = !exchanges.isEmpty && exchanges.allSatisfy(hosts.contains)
        case .noSuchName, .failed:
            break
        }
        if !mx { problems["mx"] = "the MX records of \(domain) must point at \(relayHosts.joined(separator: ", ")) only" }

        var spfPasses = false
        var addresses: [IPAddress] = []
        for host in hosts.sorted() {
            for type in [DNSRecordType.a, .aaaa] {
                for record in await dns.lookup(host, type).records ?? [] {
                    switch record {
                    case .a(let bytes), .aaaa(let bytes): addresses.append(bytes.count == 4 ? .v4(bytes) : .v6(bytes))
                    default: break
                    }
                }
            }
        }
        if !addresses.isEmpty {
            spfPasses = true
            for address in addresses where spfPasses {
                spfPasses = await spf.checkHost(ip: address, domain: domain, sender: "postmaster@\(domain)", helo: domain).result == .pass
            }
        }
        if !spfPasses { problems["spf"] = "the SPF record of \(domain) must allow the relay's hosts (\(relayHosts.joined(separator: ", ")))" }

        var dkim = false
        let keyName = "\(dkimSelector)._domainkey.\(domain)"
        if let dkimRecord, let wanted = TagList(dkimRecord)?.compact("p"), !wanted.isEmpty {
            dkim = await dns.lookup(keyName, .txt).texts?.contains { TagList($0)?.compact("p") == wanted } ?? false
        }
        if !dkim { problems["dkim"] = "publish \(dkimRecord ?? "the relay's DKIM key") as a TXT record at \(keyName)" }

        let dmarc = await dns.lookup("_dmarc.\(domain)", .txt).texts?.contains(where: DMARCRecord.isDMARC) ?? false
        if !dmarc { problems["dmarc"] = "publish a DMARC record (v=DMARC1; p=…) at _dmarc.\(domain)" }

        return Outcome(ownership: ownership, mx: mx, sending: spfPasses && dkim && dmarc, problems: problems)
    }

    static func normalised(_ host: String) -> String {
        let lower = host.lowercased()
        return lower.hasSuffix(".") ? String(lower.dropLast()) : lower
    }
}
