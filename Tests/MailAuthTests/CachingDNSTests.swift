import DNS
import Synchronization
import DNSResolver
import Foundation
import MailAuth
import TestSupport
import Testing

/// The TTL cache in front of `dns.resolver`, against a real dnsmasq.
@Suite struct CachingDNSTests {
    @Test func answersAreKeptForTheirTTLAndFailuresForASecond() async throws {
        let port = try FreePort.find()
        let dns = try Dnsmasq(port: port, ["--txt-record=kept.test,v=spf1 -all", "--host-record=host.kept.test,192.0.2.7",
                                           "--ptr-record=7.2.0.192.in-addr.arpa,host.kept.test"])
        let clock = TestClock()
        let cache = CachingDNS(resolver: DNSResolver(host: "127.0.0.1", port: Int(port)), now: { clock.now })
        #expect(await cache.lookup("kept.test", .txt).texts == ["v=spf1 -all"])
        #expect(await cache.lookup("host.kept.test", .a) == .found([.a([192, 0, 2, 7])]))
        #expect(await cache.lookup("7.2.0.192.in-addr.arpa", .ptr) == .found([.ptr("host.kept.test")]))
        #expect(await cache.lookup("missing.kept.test", .txt) == .noSuchName)
        #expect(await cache.lookup("kept.test", .mx) == .found([]), "the name exists without MX")
        dns.stop()
        // With the server gone, what was asked is still known until it expires; a new question fails.
        #expect(await cache.lookup("kept.test", .txt).texts == ["v=spf1 -all"])
        #expect(await cache.lookup("other.kept.test", .txt).records == nil)
        // A failure is remembered for a second (RFC 2308 §7), then asked again.
        var restarted: Dnsmasq?
        for _ in 0..<50 where restarted == nil {  // the killed one may still hold the port for a moment
            restarted = try? Dnsmasq(port: port, ["--txt-record=other.kept.test,found"])
            if restarted == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let again = try #require(restarted)
        defer { again.stop() }
        #expect(await cache.lookup("other.kept.test", .txt).records == nil, "the failure is still remembered")
        clock.advance(by: 1.5)
        #expect(await cache.lookup("other.kept.test", .txt).texts == ["found"], "asked again after a second")
        clock.advance(by: 3601)
        again.stop()
        #expect(await cache.lookup("kept.test", .txt).records == nil, "expired after its TTL")
    }
}

final class TestClock: Sendable {
    private let state = Mutex(Date())
    var now: Date { state.withLock { $0 } }
    func advance(by seconds: TimeInterval) { state.withLock { $0.addTimeInterval(seconds) } }
}

/// The `Authentication-Results` field, as a pure value.
@Suite struct AuthenticationResultsTests {
    @Test func theFieldNamesEachVerdictAndNothingASenderSlippedIn() {
        let verdicts = MessageAuthentication(
            spf: SPFVerdict(result: .pass, domain: "example.test"), spfCheckedHelo: false,
            dkim: [DKIMVerdict(result: .pass, domain: "example.test", selector: "s1"),
                   DKIMVerdict(result: .fail, domain: "evil.test; dmarc=pass", selector: "x\r\nX-Injected: 1")],
            dmarc: DMARCVerdict(result: .pass, fromDomain: "example.test", policy: .reject), author: nil, authorAuthenticated: true)
        let field = String(decoding: verdicts.field(authservID: "mx.relay.test"), as: UTF8.self)
        #expect(field == "Authentication-Results: mx.relay.test;\r\n\tspf=pass smtp.mailfrom=example.test;\r\n"
                + "\tdkim=pass header.d=example.test header.s=s1;\r\n\tdkim=fail header.d=evil.testdmarc=pass header.s=xX-Injected1;\r\n"
                + "\tdmarc=pass (p=reject) header.from=example.test\r\n")
    }

    @Test func onlyClaimsInThisNodesNameAreRemoved() {
        let message = Array(("Authentication-Results: MX.relay.test; dmarc=pass\r\nAuthentication-Results: other.test; spf=pass\r\n"
            + "Authentication-Results: (ours?) mx.relay.test\t1; dkim=pass\r\nAuthentication-Results:\r\n mx.relay.test;\r\n\tspf=pass\r\n"
            + "Subject: x\r\n\r\nbody").utf8)
        let cleaned = String(decoding: MessageAuthentication.removingClaims(of: "mx.relay.test", from: message), as: UTF8.self)
        #expect(cleaned == "Authentication-Results: other.test; spf=pass\r\nSubject: x\r\n\r\nbody")
        #expect(MessageAuthentication.recordedEnforcedDMARCFailure(
            in: Array("Authentication-Results: mx.relay.test;\r\n\tdmarc=fail (p=reject) header.from=a.test\r\n\r\n".utf8),
            authservID: "mx.relay.test"))
    }
}
