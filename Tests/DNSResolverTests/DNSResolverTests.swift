import DNS
import DNSResolver
import TestSupport
import Testing

/// The DNS client against a real server on loopback (dnsmasq).
@Suite struct DNSResolverTests {
    @Test func answersOverUDPAndTruncatedOnesOverTCP() async throws {
        let port = try FreePort.find()
        // Thirty long TXT strings do not fit a 512-octet UDP answer: dnsmasq sets TC, the client asks over TCP.
        let long = String(repeating: "v", count: 200)
        let dns = try Dnsmasq(port: port, [
            "--mx-host=dest.test,mx1.dest.test,20", "--mx-host=dest.test,mx0.dest.test,10",
            "--host-record=mx0.dest.test,127.0.0.2", "--txt-record=small.test,v=spf1 -all",
        ] + (0..<30).map { "--txt-record=big.test,\(long)\($0)" })
        defer { dns.stop() }
        let resolver = DNSResolver(host: "127.0.0.1", port: Int(port))

        let mx = try await resolver.query("dest.test", .mx)
        #expect(Set(mx.answers.map(\.record)) == [.mx(preference: 10, exchange: "mx0.dest.test"), .mx(preference: 20, exchange: "mx1.dest.test")])
        let a = try await resolver.query("mx0.dest.test", .a)
        #expect(a.answers.map(\.record) == [.a([127, 0, 0, 2])])
        let txt = try await resolver.query("small.test", .txt)
        #expect(txt.answers.map(\.record) == [.txt(["v=spf1 -all"])])
        let big = try await resolver.query("big.test", .txt)
        #expect(!big.truncated)
        #expect(big.answers.count == 30, "the whole answer came over TCP")
        let missing = try await resolver.query("nothing.test", .mx)
        #expect(missing.responseCode == DNSResponse.nameError)
    }

    @Test func aSilentResolverTimesOut() async throws {
        let resolver = DNSResolver(host: "127.0.0.1", port: Int(try FreePort.find()), timeout: .milliseconds(300), attempts: 1)
        await #expect(throws: DNSResolver.Failure.self) { try await resolver.query("dest.test", .mx) }
    }
}
