import MailAuth
import Testing

@Suite struct PublicSuffixListTests {
    let shipped = PublicSuffixList.shipped

    @Test func organizationalDomainsFromTheShippedList() {
        #expect(shipped.organizationalDomain(of: "www.example.co.uk") == "example.co.uk")
        #expect(shipped.organizationalDomain(of: "a.b.example.com") == "example.com")
        #expect(shipped.organizationalDomain(of: "example.com") == "example.com")
        #expect(shipped.organizationalDomain(of: "Mail.Example.COM.") == "example.com", "case and a final dot")
        // Wildcard *.ck and the exception !www.ck.
        #expect(shipped.publicSuffix(of: "shop.co.ck") == "co.ck")
        #expect(shipped.organizationalDomain(of: "mail.shop.co.ck") == "shop.co.ck")
        #expect(shipped.organizationalDomain(of: "www.ck") == "www.ck")
        #expect(shipped.organizationalDomain(of: "mail.www.ck") == "www.ck")
        #expect(shipped.publicSuffix(of: "www.ck") == "ck")
        // *.kawasaki.jp with !city.kawasaki.jp.
        #expect(shipped.organizationalDomain(of: "a.b.kawasaki.jp") == "a.b.kawasaki.jp")
        #expect(shipped.organizationalDomain(of: "x.city.kawasaki.jp") == "city.kawasaki.jp")
        // The private section.
        #expect(shipped.organizationalDomain(of: "www.someone.github.io") == "someone.github.io")
        #expect(shipped.organizationalDomain(of: "news.blogspot.com") == "news.blogspot.com")
        // Rules with non-ASCII labels match the Punycode form mail uses (aéroport.ci).
        #expect(shipped.organizationalDomain(of: "a.b.xn--aroport-bya.ci") == "b.xn--aroport-bya.ci")
        // An unknown top-level domain: the default rule `*`.
        #expect(shipped.organizationalDomain(of: "a.b.example.unknowntld") == "example.unknowntld")
        #expect(shipped.organizationalDomain(of: "mail.sender.test") == "sender.test")
        // A public suffix is its own Organizational Domain.
        #expect(shipped.organizationalDomain(of: "co.uk") == "co.uk")
        #expect(shipped.organizationalDomain(of: "com") == "com")
    }

    @Test func rulesOfItsOwn() {
        let list = PublicSuffixList(rules: """
            // a comment, then rules with a blank line between
            jp
            *.kawasaki.jp

            !city.kawasaki.jp
            co.example   trailing words are ignored
            """)
        #expect(list.publicSuffix(of: "x.y.kawasaki.jp") == "y.kawasaki.jp")
        #expect(list.organizationalDomain(of: "x.y.kawasaki.jp") == "x.y.kawasaki.jp")
        #expect(list.organizationalDomain(of: "www.city.kawasaki.jp") == "city.kawasaki.jp")
        #expect(list.organizationalDomain(of: "a.b.co.example") == "b.co.example")
        #expect(list.organizationalDomain(of: "a.b.example") == "b.example", "the default rule")
        #expect(list.organizationalDomain(of: "a.example.com") == "example.com", "com is not a rule here, * is")
    }
}
