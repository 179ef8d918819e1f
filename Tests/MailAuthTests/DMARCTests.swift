import DNSResolver
import MailAuth
import TestSupport
import Testing

/// DMARC policy discovery and alignment against a real DNS server (dnsmasq); the SPF and DKIM
/// verdicts are given.
@Suite struct DMARCTests {
    static let records = [
        "--txt-record=_dmarc.sender.test,v=DMARC1; p=reject; rua=mailto:dmarc@sender.test",
        "--txt-record=_dmarc.strict.test,v=DMARC1; p=quarantine; adkim=s; aspf=s",
        "--txt-record=_dmarc.org.test,v=DMARC1; p=reject; sp=quarantine",
        "--txt-record=_dmarc.sampled.test,v=DMARC1; p=reject; pct=0",
        "--txt-record=_dmarc.two.test,v=DMARC1; p=reject",
        "--txt-record=_dmarc.two.test,v=DMARC1; p=none",
        "--txt-record=_dmarc.other.test,v=spf1 -all",
        "--txt-record=_dmarc.other.test,v=DMARC1; p=quarantine",
        "--txt-record=_dmarc.junk.test,v=spf1 -all",
        "--txt-record=_dmarc.monitor.test,v=DMARC1; p=bogus; rua=mailto:reports@monitor.test",
        "--txt-record=_dmarc.broken.test,v=DMARC1; p=bogus",
        "--host-record=none.test,192.0.2.1",
    ]

    static func evaluator(sample: @escaping @Sendable (Int) -> Bool = { pct in Int.random(in: 0..<100) < pct })
        throws -> (DMARCEvaluator, Dnsmasq)
    {
        let port = try FreePort.find()
        let dns = try Dnsmasq(port: port, records)
        return (DMARCEvaluator(dns: CachingDNS(resolver: DNSResolver(host: "127.0.0.1", port: Int(port))), sample: sample), dns)
    }

    static func dkim(_ result: DKIMResult, _ domain: String) -> DKIMVerdict {
        DKIMVerdict(result: result, domain: domain, selector: "s1")
    }

    @Test func alignedSPFOrDKIMPasses() async throws {
        let (dmarc, dns) = try Self.evaluator()
        defer { dns.stop() }
        let spfOnly = await dmarc.evaluate(fromDomain: "sender.test", spf: SPFVerdict(result: .pass, domain: "bounces.sender.test"),
                                           dkim: [])
        #expect(spfOnly.result == .pass)
        #expect(spfOnly.policy == .reject)
        #expect(spfOnly.fromDomain == "sender.test")
        let dkimOnly = await dmarc.evaluate(fromDomain: "Sender.Test", spf: SPFVerdict(result: .fail, domain: "sender.test"),
                                            dkim: [Self.dkim(.fail, "other.test"), Self.dkim(.pass, "mail.sender.test")])
        #expect(dkimOnly.result == .pass)
        #expect(dkimOnly.reason.contains("d=mail.sender.test"))
    }

    @Test func unalignedPassesFailWithThePolicy() async throws {
        let (dmarc, dns) = try Self.evaluator()
        defer { dns.stop() }
        let verdict = await dmarc.evaluate(fromDomain: "sender.test", spf: SPFVerdict(result: .pass, domain: "other.test"),
                                           dkim: [Self.dkim(.pass, "other.test"), Self.dkim(.fail, "sender.test"),
                                                  Self.dkim(.policy, "sender.test")])
        #expect(verdict == DMARCVerdict(result: .fail, fromDomain: "sender.test", policy: .reject, reason: verdict.reason))
        #expect(verdict.failsWithEnforcement)
        // SPF softfail for the From domain itself is no pass either.
        let softfail = await dmarc.evaluate(fromDomain: "sender.test", spf: SPFVerdict(result: .softfail, domain: "sender.test"),
                                            dkim: [])
        #expect(softfail.result == .fail)
    }

    @Test func strictAlignmentWantsTheSameDomain() async throws {
        let (dmarc, dns) = try Self.evaluator()
        defer { dns.stop() }
        let subdomain = await dmarc.evaluate(fromDomain: "strict.test", spf: SPFVerdict(result: .pass, domain: "mail.strict.test"),
                                             dkim: [Self.dkim(.pass, "mail.strict.test")])
        #expect(subdomain.result == .fail)
        #expect(subdomain.policy == .quarantine)
        let same = await dmarc.evaluate(fromDomain: "strict.test", spf: nil, dkim: [Self.dkim(.pass, "strict.test")])
        #expect(same.result == .pass)
    }

    @Test func subdomainPolicyFromTheOrganizationalDomain() async throws {
        let (dmarc, dns) = try Self.evaluator()
        defer { dns.stop() }
        let subdomain = await dmarc.evaluate(fromDomain: "news.org.test", spf: nil, dkim: [])
        #expect(subdomain.result == .fail)
        #expect(subdomain.policy == .quarantine, "sp= for a subdomain")
        #expect(subdomain.reason.contains("_dmarc.org.test"))
        let organization = await dmarc.evaluate(fromDomain: "org.test", spf: nil, dkim: [])
        #expect(organization.policy == .reject, "p= for the domain itself")
        // Relaxed alignment across the organization: DKIM for org.test covers news.org.test.
        #expect(await dmarc.evaluate(fromDomain: "news.org.test", spf: nil, dkim: [Self.dkim(.pass, "org.test")]).result == .pass)
        // Without sp=, p= applies to subdomains.
        #expect(await dmarc.evaluate(fromDomain: "a.b.sender.test", spf: nil, dkim: []).policy == .reject)
    }

    @Test func pctLowersThePolicyOfMessagesLeftOut() async throws {
        let (dmarc, dns) = try Self.evaluator()
        defer { dns.stop() }
        let verdict = await dmarc.evaluate(fromDomain: "sampled.test", spf: nil, dkim: [])
        #expect(verdict.result == .fail)
        #expect(verdict.policy == .quarantine, "pct=0: reject becomes quarantine")
        let (always, dns2) = try Self.evaluator(sample: { _ in true })
        defer { dns2.stop() }
        #expect(await always.evaluate(fromDomain: "sampled.test", spf: nil, dkim: []).policy == .reject)
        #expect(await always.evaluate(fromDomain: "sender.test", spf: nil, dkim: []).policy == .reject)
    }

    @Test func recordsThatGiveNoPolicy() async throws {
        let (dmarc, dns) = try Self.evaluator()
        defer { dns.stop() }
        for domain in ["none.test", "missing.test", "two.test", "junk.test", "broken.test"] {
            let verdict = await dmarc.evaluate(fromDomain: domain, spf: nil, dkim: [])
            #expect(verdict.result == .none, "\(domain)")
            #expect(verdict.policy == nil, "\(domain)")
        }
        // A non-DMARC TXT record next to a DMARC one is ignored.
        #expect(await dmarc.evaluate(fromDomain: "other.test", spf: nil, dkim: []).policy == .quarantine)
        // An invalid p= with a reporting address reads as p=none.
        let monitor = await dmarc.evaluate(fromDomain: "monitor.test", spf: nil, dkim: [])
        #expect(monitor.result == .fail)
        #expect(monitor.policy == DMARCPolicy.none)
        #expect(!monitor.failsWithEnforcement)
    }

    @Test func lookupFailuresAreTemporary() async throws {
        // Nothing answers on this port.
        let resolver = DNSResolver(host: "127.0.0.1", port: Int(try FreePort.find()), timeout: .milliseconds(300), attempts: 1)
        let dmarc = DMARCEvaluator(dns: CachingDNS(resolver: resolver))
        let verdict = await dmarc.evaluate(fromDomain: "sender.test", spf: nil, dkim: [Self.dkim(.pass, "sender.test")])
        #expect(verdict.result == .temperror)
        #expect(verdict.policy == nil)
    }
}
