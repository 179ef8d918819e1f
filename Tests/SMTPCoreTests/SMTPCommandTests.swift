import SMTPCore
import Testing

@Suite struct SMTPCommandTests {
    @Test(arguments: [
        ("EHLO client.example", SMTPCommand.ehlo("client.example")),
        ("helo client", .helo("client")),
        ("MAIL FROM:<bob@example.com>", .mail(reversePath: "bob@example.com", parameters: .init())),
        ("mail from:<> SIZE=1000 BODY=8BITMIME SMTPUTF8", .mail(reversePath: nil, parameters: .init(size: 1000, body8BitMIME: true, smtpUTF8: true))),
        ("MAIL FROM: <bob@example.com>", .mail(reversePath: "bob@example.com", parameters: .init())),
        ("MAIL FROM:bob@example.com", .mail(reversePath: "bob@example.com", parameters: .init())),
        ("RCPT TO:<@relay.one,@relay.two:alias@relay.test>", .rcpt(forwardPath: "alias@relay.test", parameters: [:])),
        ("RCPT TO:<Shop+bob=example.com@Jane.Relay.Example> NOTIFY=NEVER", .rcpt(forwardPath: "Shop+bob=example.com@Jane.Relay.Example", parameters: ["NOTIFY": "NEVER"])),
        ("DATA", .data), ("rset", .rset), ("NOOP anything", .noop), ("QUIT", .quit), ("STARTTLS", .startTLS),
        ("HELP", .help), ("VRFY someone", .vrfy("someone")),
    ])
    func parses(line: String, command: SMTPCommand) throws {
        #expect(try SMTPCommand.parse(line) == command)
    }

    @Test(arguments: ["", "HELLO", "XYZZY x", "MAILFROM:<a@b>", "GET / HTTP/1.1"])
    func unknownCommands(line: String) {
        #expect(throws: SMTPCommand.ParseError.unknownCommand) { try SMTPCommand.parse(line) }
    }

    @Test(arguments: [
        "EHLO", "MAIL <a@b>", "MAIL FROM:<a@b", "MAIL FROM:<a@b> SIZE=big", "MAIL FROM:<a@b> BODY=9BIT",
        "MAIL FROM:<a@b> RET=HDRS", "RCPT TO:<>", "RCPT TO:<no-at-sign>", "RCPT TO:", "DATA now", "QUIT please",
        "MAIL FROM:<a@b> =x", "VRFY",
    ])
    func badArguments(line: String) {
        #expect(throws: SMTPCommand.ParseError.self) { try SMTPCommand.parse(line) }
        #expect((try? SMTPCommand.parse(line)) == nil)
    }

    @Test func repliesOnTheWire() {
        let multi = SMTPReply(code: 250, enhanced: nil, lines: ["mx.relay.test", "PIPELINING", "SIZE 1000"])
        #expect(String(decoding: multi.wireBytes, as: UTF8.self) == "250-mx.relay.test\r\n250-PIPELINING\r\n250 SIZE 1000\r\n")
        #expect(String(decoding: SMTPReply.unknownUser.wireBytes, as: UTF8.self)
            == "550 5.1.1 Recipient address rejected: User unknown\r\n")
        let injected = SMTPReply(550, "5.1.1", "no such user <x@y>\r\n250 2.0.0 Ok")
        #expect(String(decoding: injected.wireBytes, as: UTF8.self) == "550 5.1.1 no such user <x@y>  250 2.0.0 Ok\r\n")
        #expect(SMTPReply.databaseUnavailable.isTransientFailure && SMTPReply.relayDenied.isPermanentFailure)
    }
}
