import MailCore
import Testing

@Suite struct EmailAddressTests {
    @Test(arguments: [
        ("jane@example.com", "jane", "example.com"),
        ("Jane.Doe+shop@Example.COM", "Jane.Doe+shop", "Example.COM"),
        ("shop+bob=example.com@jane.relay.example", "shop+bob=example.com", "jane.relay.example"),
        ("\"odd local\"@example.com", "\"odd local\"", "example.com"),
        ("jöran@exämple.de", "jöran", "exämple.de"),
        ("postmaster@localhost", "postmaster", "localhost"),
    ])
    func parsesValidAddresses(text: String, local: String, domain: String) throws {
        let address = try EmailAddress(parsing: text)
        #expect(address.localPart == local)
        #expect(address.domain == domain)
    }

    @Test(arguments: [
        ("no-at-sign", EmailAddress.ParseError.missingAt),
        ("@example.com", .emptyLocalPart),
        ("a..b@example.com", .invalidLocalPart),
        (".a@example.com", .invalidLocalPart),
        ("a b@example.com", .invalidLocalPart),
        ("a@", .invalidDomain),
        ("a@-bad.example", .invalidDomain),
        ("a@exa_mple.com", .invalidDomain),
        ("a@nodot", .invalidDomain),
        ("a\r\n@example.com", .invalidLocalPart),
        (String(repeating: "x", count: 65) + "@example.com", .localPartTooLong),
        ("a@" + String(repeating: "abcdefghi.", count: 26) + "com", .tooLong),
    ])
    func rejectsInvalidAddresses(text: String, expected: EmailAddress.ParseError) {
        #expect(throws: expected) { try EmailAddress(parsing: text) }
    }

    @Test func keepsItsBytesAndComparesDomainsWithoutCase() throws {
        let shouted = try EmailAddress(parsing: "Bob@EXAMPLE.org")
        #expect(shouted.description == "Bob@EXAMPLE.org")
        #expect(shouted.normalized.description == "Bob@example.org")
        #expect(shouted == (try EmailAddress(parsing: "Bob@example.ORG")))
        #expect(Set([shouted, try EmailAddress(parsing: "Bob@example.org")]).count == 1)
        #expect(shouted != (try EmailAddress(parsing: "bob@example.org")), "local parts are case-sensitive")
    }
}
