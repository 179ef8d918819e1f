import DNS
import Foundation
@testable import MailAuth
import Testing

/// The pure pieces of SPF: addresses and networks, macros, record syntax.
@Suite struct IPAddressTests {
    @Test(arguments: [
        ("192.0.2.1", [192, 0, 2, 1] as [UInt8]),
        ("0.0.0.0", [0, 0, 0, 0]),
        ("255.255.255.255", [255, 255, 255, 255]),
    ])
    func dottedQuads(text: String, bytes: [UInt8]) {
        #expect(IPAddress(text) == .v4(bytes))
    }

    @Test(arguments: [
        ("2001:db8::cb01", "20010db8" + "00000000000000000000" + "cb01"),
        ("::", "00000000000000000000000000000000"),
        ("::1", "00000000000000000000000000000001"),
        ("fe80::", "fe800000000000000000000000000000"),
        ("2001:DB8:0:0:1:0:0:1", "20010db8000000000001000000000001"),
        ("1:2:3:4:5:6:7:8", "00010002000300040005000600070008"),
        ("::ffff:192.0.2.3", "00000000000000000000ffffc0000203"),
        ("64:ff9b::192.0.2.33", "0064ff9b0000000000000000c0000221"),
        ("1:2:3:4:5:6::8", "00010002000300040005000600000008"),
    ])
    func ipv6Forms(text: String, hex: String) {
        #expect(IPAddress(text)?.bytes.map { String(format: "%02x", $0) }.joined() == hex, "\(text)")
        #expect(IPAddress(text)?.isIPv4 == false)
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4/24", " 1.2.3.4", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9",
        "1::2::3", ":::", "12345::", "g::1", "1:2:3:4:5:6:7::8:9", "::1.2.3", "1.2.3.4::", "::ffff:1.2.3.256", ":1::",
    ])
    func rejected(text: String) {
        #expect(IPAddress(text) == nil, "\(text)")
    }

    @Test func mappedIPv4IsIPv4ForSPF() {
        #expect(IPAddress("::ffff:1.2.3.4")?.unmapped == IPAddress("1.2.3.4"))
        #expect(IPAddress("::1.2.3.4")?.unmapped == IPAddress("::1.2.3.4"), "an IPv4-compatible address is not mapped")
        #expect(IPAddress("1.2.3.4")?.unmapped == IPAddress("1.2.3.4"))
    }

    @Test func prefixMatching() throws {
        let ip = try #require(IPAddress("192.0.2.130"))
        #expect(ip.isIn(try #require(IPAddress("192.0.2.128")), prefixLength: 25))
        #expect(!ip.isIn(try #require(IPAddress("192.0.2.0")), prefixLength: 25))
        #expect(ip.isIn(try #require(IPAddress("10.0.0.0")), prefixLength: 0))
        #expect(ip.isIn(try #require(IPAddress("192.0.2.131")), prefixLength: 31))
        #expect(!ip.isIn(try #require(IPAddress("192.0.2.131")), prefixLength: 32))
        #expect(!ip.isIn(try #require(IPAddress("::")), prefixLength: 0), "families never match")
        let v6 = try #require(IPAddress("2001:db8:ff0:100::2"))
        #expect(v6.isIn(try #require(IPAddress("2001:db8:ff0::")), prefixLength: 44))
        #expect(!v6.isIn(try #require(IPAddress("2001:db8:ff1::")), prefixLength: 48))
        #expect(v6.isIn(try #require(IPAddress("2001:db8:ff0:100::3")), prefixLength: 127))
        #expect(!v6.isIn(try #require(IPAddress("2001:db8:ff0:100::3")), prefixLength: 128))
        #expect(!v6.isIn(try #require(IPAddress("2001:db8:ff0:100::4")), prefixLength: 126))
    }

    @Test(arguments: [
        ("2001:0db8:0000:0000:0000:0000:0000:cb01", "2001:db8::cb01"),
        ("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("0:0:0:0:0:0:0:0", "::"),
        ("CAFE:BABE::1", "cafe:babe::1"),
    ])
    func rfc5952Text(text: String, canonical: String) {
        #expect(IPAddress(text)?.description == canonical)
    }

    @Test func reverseNames() {
        #expect(IPAddress("192.0.2.3")?.reverseName == "3.2.0.192.in-addr.arpa")
        #expect(IPAddress("2001:db8::cb01")?.reverseName
            == "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa")
    }
}

@Suite struct SPFMacroTests {
    static let evaluator = SPFEvaluator(
        dns: ZoneDNS(), receivingHost: "mx.postern.example", now: { Date(timeIntervalSince1970: 1_700_000_000) })

    func expand(_ text: String, ip: String = "192.0.2.3", explanation: Bool = false) async throws -> String {
        let macro = try SPFMacroString(Substring(text), explanation: explanation)
        let context = SPFContext(
            ip: try #require(IPAddress(ip)), sender: SPFSender("strong-bad@email.example.com"), helo: "mx.example.org")
        return await macro.expand { await Self.evaluator.macroValue($0, domain: "email.example.com", context) }
    }

    /// RFC 7208 §7.4.
    @Test(arguments: [
        ("%{s}", "strong-bad@email.example.com"),
        ("%{o}", "email.example.com"),
        ("%{d}", "email.example.com"),
        ("%{d4}", "email.example.com"),
        ("%{d3}", "email.example.com"),
        ("%{d2}", "example.com"),
        ("%{d1}", "com"),
        ("%{dr}", "com.example.email"),
        ("%{d2r}", "example.email"),
        ("%{l}", "strong-bad"),
        ("%{l-}", "strong.bad"),
        ("%{lr}", "strong-bad"),
        ("%{lr-}", "bad.strong"),
        ("%{l1r-}", "strong"),
        ("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
        ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
        ("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"),
        ("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"),
        ("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
    ])
    func rfcExamples(macro: String, expansion: String) async throws {
        #expect(try await expand(macro) == expansion)
    }

    @Test func rfcIPv6Example() async throws {
        #expect(try await expand("%{ir}.%{v}._spf.%{d2}", ip: "2001:db8::cb01")
            == "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com")
    }

    @Test func escapesAndExplanationLetters() async throws {
        #expect(try await expand("a%%b%_c%-d") == "a%b c%20d")
        #expect(try await expand("%{L}") == "strong-bad")
        #expect(try await expand("%{S}") == "strong-bad%40email.example.com")
        #expect(try await expand("%{h}") == "mx.example.org")
        #expect(try await expand("from %{c} at %{r} (%{t})", ip: "2001:db8::cb01", explanation: true)
            == "from 2001:db8::cb01 at mx.postern.example (1700000000)")
        #expect(try await expand("%{p}") == "unknown", "no PTR record")
    }

    @Test(arguments: ["%", "%{", "%{x}", "%{d0}", "%{dx}", "%{d2r+}x%", "%a", "%{c}", "%{r}", "%{t}", "a b", "é"])
    func invalidMacros(text: String) {
        #expect(throws: SPFSyntaxError.self) { try SPFMacroString(Substring(text)) }
    }
}

@Suite struct SPFRecordSyntaxTests {
    @Test func directivesAndModifiers() throws {
        let record = try SPFRecord(parsing: "v=spf1 a mx/24//64 -ip4:192.0.2.0/24 ~ip6:2001:db8::/32 ?exists:%{i}.x.example "
            + "include:_spf.example.com ptr  all redirect=_spf.example.net exp=explain.example.net unknown=%{d}")
        #expect(record.directives.map(\.qualifier) == [.pass, .pass, .fail, .softfail, .neutral, .pass, .pass, .pass])
        #expect(record.directives[1].mechanism == .mx(nil, .init(ipv4: 24, ipv6: 64)))
        #expect(record.directives[2].mechanism == .ip4(.v4([192, 0, 2, 0]), prefixLength: 24))
        #expect(record.redirect != nil && record.explanation != nil)
    }

    @Test(arguments: [
        "v=spf1 redirect=a.example.com redirect=b.example.com", "v=spf1 exp=a.example.com exp=b.example.com",
        "v=spf1 ip4:192.0.2.0/33", "v=spf1 ip6:::1/129", "v=spf1 a/024", "v=spf1 a:foo-bar", "v=spf1 include",
        "v=spf1 -all:x", "v=spf1 ptr/24", "v=spf1 mx//", "v=spf1 moo", "v=spf1 redirect:x.example.com",
        "v=spf1 a:example.com\r", "v=spf1 ip4:192.0.2.1 exp=", "v=spf1 bad=%",
    ])
    func permanentErrors(text: String) {
        #expect(throws: SPFSyntaxError.self) { try SPFRecord(parsing: text) }
    }

    @Test func recordSelection() {
        #expect(SPFRecord.isSPF("v=spf1"))
        #expect(SPFRecord.isSPF("V=SPF1 -all"))
        #expect(!SPFRecord.isSPF("v=spf10"))
        #expect(!SPFRecord.isSPF("v=spf1-all"))
        #expect(!SPFRecord.isSPF("spf2.0/pra"))
    }
}
