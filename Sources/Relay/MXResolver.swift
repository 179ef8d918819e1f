import DNS
import DNSResolver

/// Next hops by MX lookup (RFC 5321 §5.1): MX hosts by preference, each by its addresses; the domain
/// itself when it has no MX; nothing for a null MX (RFC 7505) or a domain that does not exist.
public struct MXResolver: NextHopResolver {
    let dns: DNSResolver
    let port: Int

    public init(server: NextHop, port: Int = 25) {
        dns = DNSResolver(host: server.host, port: server.port)
        self.port = port
    }

    public func hops(for domain: String) async throws -> [NextHop] {
        let mx = try await ask(domain, .mx)
        if mx.responseCode == DNSResponse.nameError { throw NextHopFailure.permanent("no such domain") }
        var exchanges = mx.answers.compactMap { answer -> (UInt16, String)? in
            if case .mx(let preference, let exchange) = answer.record { return (preference, exchange) }
            return nil
        }
        if exchanges.count == 1 && (exchanges[0].1.isEmpty || exchanges[0].1 == ".") {
            throw NextHopFailure.permanent("the domain accepts no mail (null MX)")
        }
        if exchanges.isEmpty { exchanges = [(0, domain)] }
        exchanges.sort { $0.0 < $1.0 }
        var hops: [NextHop] = []
        for (_, host) in exchanges.prefix(10) {
            for type in [DNSRecordType.a, .aaaa] {
                guard let answer = try? await ask(host, type) else { continue }
                for record in answer.answers.map(\.record) {
                    switch record {
                    case .a(let bytes): hops.append(NextHop(host: bytes.map(String.init).joined(separator: "."), port: port))
                    case .aaaa(let bytes): hops.append(NextHop(host: Self.ipv6Text(bytes), port: port))
                    default: break
                    }
                }
            }
        }
        if hops.isEmpty { throw NextHopFailure.temporary("no address for the mail servers of \(domain)") }
        return hops
    }

    private func ask(_ name: String, _ type: DNSRecordType) async throws -> DNSResponse {
        let response: DNSResponse
        do {
            response = try await dns.query(name, type)
        } catch {
            throw NextHopFailure.temporary("\(error)")
        }
        if response.responseCode != DNSResponse.noError && response.responseCode != DNSResponse.nameError {
            throw NextHopFailure.temporary("resolver answered with code \(response.responseCode)")
        }
        return response
    }

    static func ipv6Text(_ bytes: [UInt8]) -> String {
        stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            .joined(separator: ":")
    }
}
