import Foundation
import MailCore
import TestSupport
import Testing

@Suite struct SRSTests {
    let srs = SRSRewriter(domain: "relay.test", secrets: ["newest secret", "older secret"])
    let now = Date(timeIntervalSince1970: 1_795_000_000)

    func address(_ text: String) throws -> EmailAddress { try EmailAddress(parsing: text) }

    @Test func forwardsToSRS0AndBack() throws {
        let sender = try address("Bob.Smith+tag=x@Example.COM")
        let rewritten = srs.forward(sender, now: now)
        #expect(rewritten.domain == "relay.test")
        #expect(rewritten.localPart.range(of: #"^SRS0=[A-Za-z0-9+/]{4}=[A-Z2-7]{2}=Example\.COM=Bob\.Smith\+tag=x$"#,
                                          options: .regularExpression) != nil, "\(rewritten)")
        #expect(try srs.reverse(rewritten, now: now) == EmailAddress(localPart: "Bob.Smith+tag=x", domain: "example.com"))
    }

    @Test func hashesCompareWithoutRegardToCase() throws {
        let rewritten = srs.forward(try address("bob@example.com"), now: now)
        let shouted = EmailAddress(localPart: rewritten.localPart.uppercased(), domain: "RELAY.TEST")
        #expect(try srs.reverse(shouted, now: now) == EmailAddress(localPart: "BOB", domain: "example.com"))
        let lowered = EmailAddress(localPart: rewritten.localPart.lowercased(), domain: "relay.test")
        #expect(try srs.reverse(lowered, now: now).localPart == "bob")
    }

    @Test func everySecretVerifiesButOnlyTheFirstSigns() throws {
        let old = SRSRewriter(domain: "relay.test", secrets: ["older secret"])
        let signedWithOld = old.forward(try address("bob@example.com"), now: now)
        #expect(try srs.reverse(signedWithOld, now: now).localPart == "bob")
        let signedWithNew = srs.forward(try address("bob@example.com"), now: now)
        #expect(throws: SRSRewriter.Failure.badHash) { try old.reverse(signedWithNew, now: now) }
    }

    @Test func validForTwentyOneDaysAcrossTheStampWrap() throws {
        let sent = srs.forward(try address("bob@example.com"), now: now)
        #expect(try srs.reverse(sent, now: now.addingTimeInterval(21 * 86_400)).localPart == "bob")
        #expect(throws: SRSRewriter.Failure.expired) { try srs.reverse(sent, now: now.addingTimeInterval(22 * 86_400)) }
        // The stamp counts days modulo 1024; a stamp written on day 1023 is one day old on day 0.
        let beforeWrap = Date(timeIntervalSince1970: Double(1023 + 1024 * 20) * 86_400 + 3600)
        let wrapped = srs.forward(try address("bob@example.com"), now: beforeWrap)
        #expect(try srs.reverse(wrapped, now: beforeWrap.addingTimeInterval(86_400)).localPart == "bob")
    }

    @Test func forgedAndMalformedAddressesAreRefused() throws {
        let genuine = srs.forward(try address("bob@example.com"), now: now).localPart
        var forged = Array(genuine)
        forged[5] = forged[5] == "A" ? "B" : "A"  // first hash character
        #expect(throws: SRSRewriter.Failure.badHash) { try srs.reverse(EmailAddress(localPart: String(forged), domain: "relay.test"), now: now) }
        let otherUser = genuine.replacingOccurrences(of: "=bob", with: "=eve")
        #expect(throws: SRSRewriter.Failure.badHash) { try srs.reverse(EmailAddress(localPart: otherUser, domain: "relay.test"), now: now) }
        for local in ["bob", "SRS0=abcd", "SRS0=abcd=AA=example.com", "SRS0==AA=example.com=bob", "SRS0=abcd=A!=example.com=bob", "SRS1=abcd=hop"] {
            #expect(throws: SRSRewriter.Failure.self) { try srs.reverse(EmailAddress(localPart: local, domain: "relay.test"), now: now) }
        }
    }

    @Test func alreadySRSSendersBecomeSRS1NamingTheFirstForwarder() throws {
        let first = SRSRewriter(domain: "hop1.example", secrets: ["hop1 secret"])
        let srs0 = first.forward(try address("bob@example.com"), now: now)
        let srs1 = srs.forward(srs0, now: now)
        #expect(srs1.localPart.hasPrefix("SRS1="), "\(srs1)")
        #expect(srs1.localPart.contains("=hop1.example=="), "\(srs1)")
        // A bounce goes back to the first forwarder's SRS0 address, which that forwarder can undo.
        let back = try srs.reverse(srs1, now: now)
        #expect(back == srs0)
        #expect(try first.reverse(back, now: now) == EmailAddress(localPart: "bob", domain: "example.com"))
        // Forwarded once more, it stays SRS1 naming the first forwarder.
        let third = SRSRewriter(domain: "hop3.example", secrets: ["s3"]).forward(srs1, now: now)
        #expect(third.localPart.hasPrefix("SRS1=") && third.localPart.contains("=hop1.example=="), "\(third)")
    }

    @Test func sendersInTheSRSDomainAreLeftAlone() throws {
        let local = try address("bounces@relay.test")
        #expect(srs.forward(local, now: now) == local)
    }
}

/// The same secret gives the same addresses as postsrsd (Debian's), in both directions.
@Suite struct SRSPostsrsdCompatibilityTests {
    static let senders = [
        "bob@example.com", "Bob.Smith@Example.ORG", "first.last+tag@sub.example.net", "a=b@example.com",
        "weird-local_part!#$%&'*/=?^`{|}~@example.com", "x@y.example",
    ]

    @Test func postsrsdAndPosternAgreeByteForByte() async throws {
        let secrets = ["s3cr3t-for-the-test", "an older secret"]
        let daemon = try await Postsrsd.start(domain: "relay.test", secrets: secrets)
        defer { daemon.stop() }
        let srs = SRSRewriter(domain: "relay.test", secrets: secrets)
        for sender in Self.senders {
            let theirs = try daemon.forward(sender)
            let ours = srs.forward(try EmailAddress(parsing: sender))
            #expect(theirs == "200 " + ours.description, "forward \(sender)")
            #expect(try daemon.reverse(ours.description) == "200 " + sender, "postsrsd reverses ours for \(sender)")
            let theirsAddress = try EmailAddress(parsing: String(theirs.dropFirst(4)))
            #expect(try srs.reverse(theirsAddress).description.lowercased() == sender.lowercased(), "we reverse postsrsd's for \(sender)")
        }
        // Re-forwarding: SRS0 from another forwarder becomes SRS1, alike in both.
        let hop1 = SRSRewriter(domain: "hop1.example", secrets: ["other relay"])
        let srs0 = hop1.forward(try EmailAddress(parsing: "bob@example.com")).description
        let theirs = try daemon.forward(srs0)
        let ours = srs.forward(try EmailAddress(parsing: srs0))
        #expect(theirs == "200 " + ours.description, "SRS0 → SRS1")
        // SRS1 made by a second forwarder (its own secret) is signed anew, alike in both.
        let hop2 = SRSRewriter(domain: "hop2.example", secrets: ["second relay"]).forward(try EmailAddress(parsing: srs0))
        #expect(hop2.localPart.hasPrefix("SRS1="))
        let srs1Again = try daemon.forward(hop2.description)
        let oursAgain = srs.forward(hop2)
        #expect(srs1Again == "200 " + oursAgain.description, "SRS1 → SRS1")
        // An address this relay signed itself is not rewritten again (postsrsd: "Already rewritten").
        #expect(try daemon.forward(ours.description).hasPrefix("500 "))
        #expect(srs.forward(ours) == ours)
        #expect(try daemon.reverse(ours.description) == "200 " + srs0, "postsrsd reverses our SRS1")
        // A hash signed by the older secret verifies in both.
        let old = SRSRewriter(domain: "relay.test", secrets: ["an older secret"]).forward(try EmailAddress(parsing: "bob@example.com"))
        #expect(try daemon.reverse(old.description) == "200 bob@example.com")
    }
}
