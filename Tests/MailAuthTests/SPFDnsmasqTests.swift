import DNSResolver
import Foundation
import MailAuth
import TestSupport
import Testing

/// SPF against a real DNS server: dnsmasq on loopback serving `.test` zones, asked through
/// `DNSResolver` and `CachingDNS` as in production.
@Suite struct SPFDnsmasqTests {
    /// The zones of every case. Names under `.test` that are not here get NXDOMAIN; names under
    /// `broken.test` are forwarded to a port nobody answers on, so their lookups time out.
    static func records(deadPort: UInt16) -> [String] {
        [
            "--txt-record=pass.spf.test,v=spf1 ip4:192.0.2.0/24 -all",
            "--txt-record=soft.spf.test,v=spf1 a ~all", "--host-record=soft.spf.test,192.0.2.99",
            "--txt-record=neutral.spf.test,v=spf1 ?all",
            "--host-record=nospf.spf.test,192.0.2.98",
            "--txt-record=nospf.spf.test,google-site-verification=abc",
            "--txt-record=bad.spf.test,v=spf1 ip4:192.0.2.0/33 -all",
            "--txt-record=two.spf.test,v=spf1 -all", "--txt-record=two.spf.test,v=spf1 +all",
            "--txt-record=include.spf.test,v=spf1 include:pass.spf.test -all",
            "--txt-record=include-none.spf.test,v=spf1 include:nospf.spf.test -all",
            "--txt-record=redirect.spf.test,v=spf1 ip4:203.0.113.1 redirect=pass.spf.test",
            "--txt-record=mx.spf.test,v=spf1 mx:mx.spf.test/28 -all",
            "--mx-host=mx.spf.test,mail.mx.spf.test,10", "--host-record=mail.mx.spf.test,198.51.100.17,2001:db8::25",
            "--txt-record=ptr.spf.test,v=spf1 ptr -all",
            "--ptr-record=10.2.0.192.in-addr.arpa,host.ptr.spf.test", "--host-record=host.ptr.spf.test,192.0.2.10",
            "--txt-record=ip.macro.spf.test,v=spf1 exists:%{i}._allowed.%{d} -all",
            "--host-record=192.0.2.10._allowed.ip.macro.spf.test,127.0.0.2",
            "--txt-record=local.macro.spf.test,v=spf1 exists:%{l}._users.%{d} -all",
            "--host-record=alice._users.local.macro.spf.test,127.0.0.2",
            "--txt-record=exp.spf.test,v=spf1 ip4:192.0.2.0/24 -all exp=why.spf.test",
            "--txt-record=why.spf.test,%{i} may not send for %{d}",
            // Ten DNS mechanisms are allowed, an eleventh is a permerror.
            "--txt-record=ten.spf.test,v=spf1 " + (1...9).map { "a:h\($0).spf.test" }.joined(separator: " ")
                + " a:h10.spf.test ip4:192.0.2.10 -all",
            "--txt-record=eleven.spf.test,v=spf1 " + (1...11).map { "a:h\($0).spf.test" }.joined(separator: " ")
                + " ip4:192.0.2.10 -all",
            // Two void lookups are allowed, a third is a permerror.
            "--txt-record=two-void.spf.test,v=spf1 a:v1.spf.test a:v2.spf.test ip4:192.0.2.10 -all",
            "--txt-record=three-void.spf.test,v=spf1 a:v1.spf.test a:v2.spf.test mx:v3.spf.test ip4:192.0.2.10 -all",
            "--txt-record=include-broken.spf.test,v=spf1 include:x.broken.test -all",
            "--server=/broken.test/127.0.0.1#\(deadPort)",
        ] + (1...11).map { "--host-record=h\($0).spf.test,203.0.113.\($0)" }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var ip: String
        var mailFrom: String
        var helo = "mail.client.test"
        var result: SPFResult
        var domain: String
        var testDescription: String { "\(mailFrom.isEmpty ? "HELO " + helo : mailFrom) from \(ip) → \(result)" }
    }

    @Test(arguments: [
        Case(ip: "192.0.2.10", mailFrom: "a@pass.spf.test", result: .pass, domain: "pass.spf.test"),
        Case(ip: "::ffff:192.0.2.10", mailFrom: "a@pass.spf.test", result: .pass, domain: "pass.spf.test"),
        Case(ip: "198.51.100.1", mailFrom: "a@pass.spf.test", result: .fail, domain: "pass.spf.test"),
        Case(ip: "2001:db8::1", mailFrom: "a@pass.spf.test", result: .fail, domain: "pass.spf.test"),
        Case(ip: "198.51.100.1", mailFrom: "a@soft.spf.test", result: .softfail, domain: "soft.spf.test"),
        Case(ip: "192.0.2.99", mailFrom: "a@soft.spf.test", result: .pass, domain: "soft.spf.test"),
        Case(ip: "198.51.100.1", mailFrom: "a@neutral.spf.test", result: .neutral, domain: "neutral.spf.test"),
        Case(ip: "198.51.100.1", mailFrom: "a@nospf.spf.test", result: .none, domain: "nospf.spf.test"),
        Case(ip: "198.51.100.1", mailFrom: "a@missing.spf.test", result: .none, domain: "missing.spf.test"),
        Case(ip: "198.51.100.1", mailFrom: "a@x.broken.test", result: .temperror, domain: "x.broken.test"),
        Case(ip: "198.51.100.1", mailFrom: "a@include-broken.spf.test", result: .temperror, domain: "include-broken.spf.test"),
        Case(ip: "198.51.100.1", mailFrom: "a@bad.spf.test", result: .permerror, domain: "bad.spf.test"),
        Case(ip: "198.51.100.1", mailFrom: "a@two.spf.test", result: .permerror, domain: "two.spf.test"),
        Case(ip: "192.0.2.10", mailFrom: "a@include.spf.test", result: .pass, domain: "include.spf.test"),
        Case(ip: "198.51.100.1", mailFrom: "a@include.spf.test", result: .fail, domain: "include.spf.test"),
        Case(ip: "192.0.2.10", mailFrom: "a@include-none.spf.test", result: .permerror, domain: "include-none.spf.test"),
        Case(ip: "192.0.2.10", mailFrom: "a@redirect.spf.test", result: .pass, domain: "redirect.spf.test"),
        Case(ip: "198.51.100.1", mailFrom: "a@redirect.spf.test", result: .fail, domain: "redirect.spf.test"),
        Case(ip: "198.51.100.30", mailFrom: "a@mx.spf.test", result: .pass, domain: "mx.spf.test"),
        Case(ip: "198.51.100.33", mailFrom: "a@mx.spf.test", result: .fail, domain: "mx.spf.test"),
        Case(ip: "2001:db8::25", mailFrom: "a@mx.spf.test", result: .pass, domain: "mx.spf.test"),
        Case(ip: "192.0.2.10", mailFrom: "a@ptr.spf.test", result: .pass, domain: "ptr.spf.test"),
        Case(ip: "192.0.2.11", mailFrom: "a@ptr.spf.test", result: .fail, domain: "ptr.spf.test"),
        Case(ip: "192.0.2.10", mailFrom: "a@ip.macro.spf.test", result: .pass, domain: "ip.macro.spf.test"),
        Case(ip: "192.0.2.11", mailFrom: "a@ip.macro.spf.test", result: .fail, domain: "ip.macro.spf.test"),
        Case(ip: "192.0.2.10", mailFrom: "alice@local.macro.spf.test", result: .pass, domain: "local.macro.spf.test"),
        Case(ip: "192.0.2.10", mailFrom: "bob@local.macro.spf.test", result: .fail, domain: "local.macro.spf.test"),
        Case(ip: "192.0.2.10", mailFrom: "a@ten.spf.test", result: .pass, domain: "ten.spf.test"),
        Case(ip: "192.0.2.10", mailFrom: "a@eleven.spf.test", result: .permerror, domain: "eleven.spf.test"),
        Case(ip: "192.0.2.10", mailFrom: "a@two-void.spf.test", result: .pass, domain: "two-void.spf.test"),
        Case(ip: "192.0.2.10", mailFrom: "a@three-void.spf.test", result: .permerror, domain: "three-void.spf.test"),
        Case(ip: "192.0.2.10", mailFrom: "", helo: "pass.spf.test", result: .pass, domain: "pass.spf.test"),
        Case(ip: "198.51.100.1", mailFrom: "", helo: "pass.spf.test", result: .fail, domain: "pass.spf.test"),
    ])
    func result(of check: Case) async throws {
        let (dnsmasq, evaluator) = try Self.start()
        defer { dnsmasq.stop() }
        let verdict = await evaluator.check(ip: try #require(IPAddress(check.ip)), helo: check.helo, mailFrom: check.mailFrom)
        #expect(verdict.result == check.result, "\(verdict.reason)")
        #expect(verdict.domain == check.domain)
    }

    @Test func explanationOfAFail() async throws {
        let (dnsmasq, evaluator) = try Self.start()
        defer { dnsmasq.stop() }
        let ip = try #require(IPAddress("198.51.100.1"))
        let answer = await evaluator.checkHost(ip: ip, domain: "exp.spf.test", sender: "a@exp.spf.test", helo: "c.test")
        #expect(answer.result == .fail)
        #expect(answer.explanation == "198.51.100.1 may not send for exp.spf.test")
    }

    static func start() throws -> (Dnsmasq, SPFEvaluator) {
        let port = try FreePort.find()
        let dnsmasq = try Dnsmasq(port: port, records(deadPort: try FreePort.find()))
        let resolver = DNSResolver(host: "127.0.0.1", port: Int(port), timeout: .milliseconds(400), attempts: 1)
        return (dnsmasq, SPFEvaluator(dns: CachingDNS(resolver: resolver), receivingHost: "mx.postern.test"))
    }
}
