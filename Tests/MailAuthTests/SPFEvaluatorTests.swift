import DNS
import MailAuth
import Testing

/// check_host() over a fixed zone: the choices the RFC 7208 suite leaves open.
@Suite struct SPFEvaluatorTests {
    static let zone = ZoneDNS(
        records: [
            "relay.example": [.txt(["v=spf1 ip4:192.0.2.0/24 -all exp=why.relay.example"])],
            "why.relay.example": [.txt(["%{i} is not a relay of %{d}"])],
            "alias.example": [.txt(["v=spf1 -ip4:198.51.100.7 redirect=relay.example exp=unused.example"])],
            "unused.example": [.txt(["never shown"])],
            "plus.example": [.txt(["v=spf1 include:%{l}.users.plus.example -all"])],
            "a+b.users.plus.example": [.txt(["v=spf1 +all"])],
            "lookup.example": [.txt(["v=spf1 a:down.example -all"])],
            "split.example": [.txt(["v=spf1 ip4:192.0.2.1", " -all"])],
            "helo.example": [.txt(["v=spf1 a -all"]), .a([192, 0, 2, 25])],
        ],
        failing: ["down.example"])

    let evaluator = SPFEvaluator(dns: Self.zone, receivingHost: "mx.postern.example")

    @Test func aFailExplainsItselfWithTheRecordsExp() async throws {
        let ip = try #require(IPAddress("198.51.100.1"))
        let answer = await evaluator.checkHost(ip: ip, domain: "relay.example", sender: "x@relay.example", helo: "h.example")
        #expect(answer.result == .fail)
        #expect(answer.explanation == "198.51.100.1 is not a relay of relay.example")
        #expect(await evaluator.checkHost(ip: try #require(IPAddress("192.0.2.9")), domain: "relay.example",
                                          sender: "x@relay.example", helo: "h.example").explanation == nil)
    }

    @Test func aRedirectTakesTheTargetsExplanation() async throws {
        let ip = try #require(IPAddress("203.0.113.1"))
        let answer = await evaluator.checkHost(ip: ip, domain: "alias.example", sender: "x@alias.example", helo: "h.example")
        #expect(answer.result == .fail)
        #expect(answer.explanation == "203.0.113.1 is not a relay of relay.example")
        // A fail of the record's own mechanism uses its own exp=.
        let own = await evaluator.checkHost(
            ip: try #require(IPAddress("198.51.100.7")), domain: "alias.example", sender: "x@alias.example", helo: "h.example")
        #expect(own.result == .fail && own.explanation == "never shown")
    }

    @Test func macroNamesMayHoldAnyVisibleCharacter() async throws {
        let verdict = await evaluator.check(ip: try #require(IPAddress("203.0.113.1")), helo: "h.example", mailFrom: "a+b@plus.example")
        #expect(verdict.result == .pass)
        #expect(await evaluator.check(ip: try #require(IPAddress("203.0.113.1")), helo: "h.example",
                                      mailFrom: "c@plus.example").result == .permerror, "include of a name without a record")
    }

    @Test func aFailedLookupIsATemporaryError() async throws {
        let verdict = await evaluator.check(ip: try #require(IPAddress("192.0.2.1")), helo: "h.example", mailFrom: "x@lookup.example")
        #expect(verdict.result == .temperror)
        #expect(verdict.domain == "lookup.example")
    }

    @Test func theStringsOfOneTXTRecordAreJoined() async throws {
        #expect(await evaluator.check(ip: try #require(IPAddress("192.0.2.1")), helo: "h", mailFrom: "x@split.example").result == .pass)
        #expect(await evaluator.check(ip: try #require(IPAddress("192.0.2.2")), helo: "h", mailFrom: "x@split.example").result == .fail)
    }

    @Test func theNullReversePathChecksTheHELOName() async throws {
        let verdict = await evaluator.check(ip: try #require(IPAddress("::ffff:192.0.2.25")), helo: "HELO.example", mailFrom: "")
        #expect(verdict == SPFVerdict(result: .pass, domain: "helo.example", reason: verdict.reason))
        #expect(!verdict.reason.isEmpty)
        #expect(await evaluator.check(ip: try #require(IPAddress("192.0.2.25")), helo: "[192.0.2.25]", mailFrom: "").result == .none)
        #expect(await evaluator.check(ip: try #require(IPAddress("192.0.2.25")), helo: "localhost", mailFrom: "").result == .none)
    }
}
