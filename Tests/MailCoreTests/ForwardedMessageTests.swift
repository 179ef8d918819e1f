import Foundation
import MailCore
import Testing

/// The header rewrite of forwarded mail, over a corpus of real-world-shaped messages (Corpus/*.eml).
@Suite struct ForwardedMessageTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")
    static let names = ((try? FileManager.default.contentsOfDirectory(atPath: corpus.path)) ?? []).filter { $0.hasSuffix(".eml") }.sorted()
    let alias = EmailAddress(localPart: "shop", domain: "relay.test")
    let envelope = EmailAddress(localPart: "bounces", domain: "mailer.example")

    static func load(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: corpus.appendingPathComponent(name))) }

    func rewrite(_ name: String, style: ForwardingStyle = .init(), sender: EmailAddress?? = nil) throws -> [UInt8] {
        ForwardedMessage.rewrite(try Self.load(name), alias: alias, envelopeSender: sender ?? envelope, style: style)
    }

    static func fields(_ message: [UInt8]) -> [HeaderField] { HeaderField.split(message).fields }
    static func text(_ field: HeaderField) -> String { String(decoding: field.raw, as: UTF8.self) }
    static func field(_ name: String, in message: [UInt8]) -> HeaderField? { fields(message).first { $0.isNamed(name) } }

    struct Missing: Error { var what: String }

    static func raw(_ name: String, in message: [UInt8]) throws -> String {
        guard let field = field(name, in: message) else { throw Missing(what: name) }
        return text(field)
    }

    static func firstMailbox(_ name: String, in message: [UInt8]) throws -> AddressList.Mailbox {
        guard let field = field(name, in: message), let mailbox = AddressList(parsing: field.value).mailboxes.first
        else { throw Missing(what: "a mailbox in \(name)") }
        return mailbox
    }

    @Test func theCorpusIsThere() {
        #expect(Self.names.count >= 10, "\(Self.names)")
    }

    /// What holds for every message: the body is untouched, fields Postern does not own are kept byte
    /// for byte and in order, one From with a reverse alias, nothing dropped survives.
    @Test(arguments: names) func invariants(_ name: String) throws {
        let original = try Self.load(name)
        let out = try rewrite(name)
        let (inFields, inBody) = HeaderField.split(original)
        let (outFields, outBody) = HeaderField.split(out)
        #expect(Array(out[outBody...]) == Array(original[inBody...]), "body unchanged")

        let owned: Set<String> = ["from", "reply-to", "to", "cc", "return-path", "dkim-signature", "sender", "bcc",
                                  "mail-followup-to", "mail-reply-to", "disposition-notification-to", "return-receipt-to"]
        let kept = inFields.filter { !owned.contains($0.name.lowercased()) && !$0.name.lowercased().hasPrefix("x-postern-") }
        let passed = outFields.filter { field in kept.contains { $0.raw.elementsEqual(field.raw) } }
        #expect(passed.map(\.raw).map(Array.init) == kept.map(\.raw).map(Array.init), "kept fields are byte-identical and in order")

        #expect(outFields.filter { $0.isNamed("From") }.count == 1)
        for dropped in ["Return-Path", "DKIM-Signature", "Sender", "Disposition-Notification-To", "Bcc"] {
            #expect(!outFields.contains { $0.isNamed(dropped) }, "\(dropped) is dropped")
        }
        #expect(outFields.filter { $0.isNamed("X-Postern-Alias") }.map(\.value) == ["shop@relay.test"])
        let from = try Self.firstMailbox("From", in: out)
        let reverse = try #require(ReverseAlias(from.address), "From carries a reverse alias: \(from.address)")
        #expect(reverse.alias == alias)
        for field in outFields where ["from", "to", "cc", "reply-to"].contains(field.name.lowercased()) {
            for line in Self.text(field).split(separator: "\r\n") {
                #expect(line.utf8.count <= 78 || !line.contains(" "), "folded: \(line)")
            }
        }
    }

    @Test func plainMessage() throws {
        let out = try rewrite("plain.eml")
        #expect(try Self.raw("From", in: out)
                == "From: \"Bob Smith 'bob at example.com'\" <shop+bob=example.com@relay.test>\r\n")
        #expect(try Self.raw("To", in: out) == "To: shop@relay.test\r\n", "the alias itself stays")
        #expect(Self.field("X-Postern-Original-Sender", in: out)?.value == "bob@example.com")
    }

    @Test func everyDisplayFormat() throws {
        let expected: [ForwardingStyle.FromDisplay: String] = [
            .nameAndAddress: "\"Bob Smith 'bob at example.com'\" <shop+bob=example.com@relay.test>",
            .nameDashAddress: "\"Bob Smith - bob(a)example.com\" <shop+bob=example.com@relay.test>",
            .nameOnly: "\"Bob Smith\" <shop+bob=example.com@relay.test>",
            .addressOnly: "\"bob at example.com\" <shop+bob=example.com@relay.test>",
            .none: "<shop+bob=example.com@relay.test>",
        ]
        for format in ForwardingStyle.FromDisplay.allCases {
            let out = try rewrite("plain.eml", style: .init(fromDisplay: format))
            #expect(Self.field("From", in: out)?.value == expected[format], "\(format)")
        }
    }

    @Test func replyToStyle() throws {
        let out = try rewrite("plain.eml", style: .init(useReplyTo: true))
        #expect(Self.field("From", in: out)?.value == "\"Bob Smith 'bob at example.com'\" <shop@relay.test>")
        #expect(Self.field("Reply-To", in: out)?.value == "<shop+bob=example.com@relay.test>")
        let folded = try rewrite("folded.eml", style: .init(useReplyTo: true))
        #expect(Self.fields(folded).filter { $0.isNamed("Reply-To") }.map(\.value) == ["<shop+list=lists.example.com@relay.test>"],
                "the original Reply-To is replaced, not kept beside")
    }

    @Test func encodedWordsAreDecodedForTheDisplayAndWrittenAsUTF8() throws {
        let out = try rewrite("rfc2047.eml")
        let from = try Self.firstMailbox("From", in: out)
        #expect(from.displayText == "André Pirard 'PIRARD at vm1.ulg.ac.be'")
        #expect(from.display?.hasPrefix("=?UTF-8?B?") == true)
        #expect(from.address.description == "shop+PIRARD=vm1.ulg.ac.be@relay.test")
        #expect(try Self.raw("To", in: out) == "To: =?US-ASCII?Q?Keith_Moore?= <shop@relay.test>\r\n")
    }

    @Test func foldedFieldsReplyToGroupsAndForgedHeaders() throws {
        let out = try rewrite("folded.eml")
        let from = try #require(Self.field("From", in: out))
        #expect(from.value == "\"Frank Example 'frank at example.com'\" <shop+list=lists.example.com@relay.test>",
                "display from From, reverse alias from Reply-To")
        #expect(!Self.fields(out).contains { $0.isNamed("Reply-To") }, "the real Reply-To would bypass the alias")
        let to = try #require(Self.field("To", in: out))
        #expect(to.value == "shop@relay.test, \"Grace Hopper\" <shop+grace=navy.example@relay.test>, \"heidi at example.com\" <shop+heidi=example.com@relay.test>")
        #expect(Self.text(to).contains("\r\n "), "a long To is folded")
        #expect(Self.field("Cc", in: out)?.value == "undisclosed-recipients:;")
        #expect(try Self.raw("Subject", in: out).contains("more\r\n than one line"), "not re-folded")
    }

    @Test func withoutFromTheEnvelopeSenderIsUsedAndWithoutEitherTheAlias() throws {
        let out = try rewrite("no-from.eml")
        #expect(Self.field("From", in: out)?.value == "\"bounces at mailer.example\" <shop+bounces=mailer.example@relay.test>")
        let nullSender = try rewrite("no-from.eml", sender: .some(nil))
        #expect(Self.field("From", in: nullSender)?.value == "<shop@relay.test>")
        #expect(Self.field("X-Postern-Original-Sender", in: nullSender) == nil)
    }

    @Test func severalAuthorsAndAnAliasWithExtension() throws {
        let out = try rewrite("multi-from.eml")
        #expect(Self.field("From", in: out)?.value == "\"Ivan 'ivan at example.com'\" <shop+ivan=example.com@relay.test>")
        #expect(Self.field("To", in: out)?.value == "shop+news@relay.test", "the alias with its extension is the alias")
    }

    @Test func utf8AddressesAndNames() throws {
        let out = try rewrite("utf8-headers.eml")
        let from = try Self.firstMailbox("From", in: out)
        #expect(from.displayText == "Jörg Müller 'jörg at bücher.example'")
        #expect(from.address.description == "shop+jörg=bücher.example@relay.test")
    }

    @Test func commentNamesAndOtherRecipients() throws {
        let attachment = try rewrite("attachment.eml")
        #expect(Self.field("From", in: attachment)?.value == "\"Bob Smith 'bob at example.com'\" <shop+bob=example.com@relay.test>")
        let photos = try rewrite("alternative-inline.eml")
        #expect(Self.field("To", in: photos)?.value == "shop@relay.test, Dave <shop+dave=example.net@relay.test>")
        #expect(Self.field("Cc", in: photos)?.value == "\"erin at example.com\" <shop+erin=example.com@relay.test>")
    }
}

@Suite struct MessageHeaderPartsTests {
    @Test func encodedWords() {
        #expect(EncodedWord.decodePhrase("=?ISO-8859-1?Q?a?=") == "a")
        #expect(EncodedWord.decodePhrase("=?ISO-8859-1?Q?a?= b") == "a b")
        #expect(EncodedWord.decodePhrase("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=") == "ab", "space between encoded words is dropped")
        #expect(EncodedWord.decodePhrase("=?ISO-8859-1?Q?a_b?=") == "a b")
        #expect(EncodedWord.decodePhrase("\"Smith, John\"") == "Smith, John")
        #expect(EncodedWord.decodePhrase("=?x-unknown?Q?a?=") == "=?x-unknown?Q?a?=", "an unknown charset stays as written")
        let long = String(repeating: "é", count: 100)
        let words = EncodedWord.encode(long)
        #expect(words.allSatisfy { $0.count <= 75 })
        #expect(EncodedWord.decodePhrase(words.joined(separator: " ")) == long)
    }

    @Test func addressLists() {
        let list = AddressList(parsing: "\"Smith, John\" <john@example.com>, team: a@x.example, b@y.example;, <@route:c@z.example>, broken")
        #expect(list.items.count == 4)
        #expect(list.mailboxes.map(\.address.description) == ["john@example.com", "c@z.example"])
        #expect(list.mailboxes.first?.displayText == "Smith, John")
        #expect(list.items[1] == .other("team: a@x.example, b@y.example;"))
        #expect(list.items[3] == .other("broken"))
        let literal = AddressList(parsing: "bob@[IPv6:2001:db8::1], carol@x.example (Carol \"C\" Jones), \"a b\"@q.example")
        #expect(literal.mailboxes.map(\.address.description) == ["bob@[IPv6:2001:db8::1]", "carol@x.example", "\"a b\"@q.example"],
                "a literal's colons start no group; a quote in a comment is text")
    }

    @Test(.timeLimit(.minutes(1))) func hostileDisplayNamesAreCheap() {
        let spaces = "a" + String(repeating: " ", count: 500_000) + "b"
        #expect(EncodedWord.decodePhrase(spaces) == "a", "cut at 2,000 characters, one space per run")
        #expect(EncodedWord.decodePhrase("x  \t  y") == "x y")
    }

    @Test func groupsAreRewrittenAndUnreadableItemsDropped() {
        let alias = EmailAddress(localPart: "shop", domain: "relay.test")
        let message = Array("From: a@b.example\r\nCc: team: spy@evil.example, shop@relay.test;, <spy @ evil.example>, empty:;\r\n\r\nx\r\n".utf8)
        let out = ForwardedMessage.rewrite(message, alias: alias, envelopeSender: nil, style: .init())
        let cc = HeaderField.split(out).fields.first { $0.isNamed("Cc") }?.value
        #expect(cc == "team: \"spy at evil.example\" <shop+spy=evil.example@relay.test>, shop@relay.test;, empty:;", "\(cc ?? "")")
    }

    @Test func longAndQuotedAddressesStaySafe() {
        let alias = EmailAddress(localPart: "shop", domain: "relay.test")
        let many = (0..<60).map { "\"Person Number \($0) With A Long Name\" <p\($0)@example.com>" }.joined(separator: ", ")
        let message = Array("From: \"a b\"@quoted.example\r\nTo: \(many)\r\n\r\nx\r\n".utf8)
        let out = ForwardedMessage.rewrite(message, alias: alias, envelopeSender: nil, style: .init())
        for line in out.split(separator: 10) { #expect(line.count <= 998) }
        let from = HeaderField.split(out).fields.first { $0.isNamed("From") }?.value
        #expect(from?.hasSuffix(" <shop@relay.test>") == true && from?.contains("shop+") == false,
                "no reverse alias for a quoted local part: \(from ?? "")")
    }

    @Test func addressLiteralsAreOnlyAddresses() {
        #expect((try? EmailAddress(parsing: "a@[192.0.2.1]")) != nil)
        #expect((try? EmailAddress(parsing: "a@[IPv6:2001:db8::1]")) != nil)
        #expect((try? EmailAddress(parsing: "a@[1>\r\nRCPT TO:<postmaster>\r\nX ]")) == nil)
        #expect((try? EmailAddress(parsing: "a@[example]")) == nil)
    }

    @Test func reverseAliases() throws {
        let alias = EmailAddress(localPart: "shop+news", domain: "Jane.Relay.Example")
        let reverse = ReverseAlias(alias: alias, destination: EmailAddress(localPart: "bob+tag=x", domain: "example.com"))
        #expect(reverse.description == "shop+bob+tag=x=example.com@jane.relay.example")
        let read = try #require(ReverseAlias(reverse.address))
        #expect(read == reverse)
        #expect(read.destination.description == "bob+tag=x@example.com")
        #expect(ReverseAlias(EmailAddress(localPart: "shop", domain: "relay.test")) == nil)
        #expect(ReverseAlias(EmailAddress(localPart: "shop+bob", domain: "relay.test")) == nil)
    }
}
