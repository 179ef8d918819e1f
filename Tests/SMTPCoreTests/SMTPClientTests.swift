import Testing

@testable import SMTPCore

@Suite struct SMTPReplyParserTests {
    @Test func multilineReplyWithEnhancedCodes() throws {
        var parser = SMTPReplyParser()
        parser.feed(Array("250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n550 5.1.1 no such user\r\n".utf8))
        let ehlo = try #require(try parser.next())
        #expect(ehlo.code == 250)
        #expect(ehlo.lines == ["mx.example", "PIPELINING", "SIZE 1000", "8BITMIME"])
        let capabilities = SMTPServerCapabilities(ehlo: ehlo)
        #expect(capabilities.pipelining && capabilities.eightBitMIME && !capabilities.smtpUTF8)
        #expect(capabilities.maxSize == 1000)
        let refusal = try #require(try parser.next())
        #expect(refusal == SMTPReply(550, "5.1.1", "no such user"))
        #expect(try parser.next() == nil)
    }

    @Test func everySplitPointGivesTheSameReplies() throws {
        let wire = Array("220 hi\r\n250-a\r\n250 2.0.0 b\r\n354 go on\r\n".utf8)
        for split in 0...wire.count {
            var parser = SMTPReplyParser()
            var replies: [SMTPReply] = []
            parser.feed(wire[..<split])
            while let reply = try parser.next() { replies.append(reply) }
            parser.feed(wire[split...])
            while let reply = try parser.next() { replies.append(reply) }
            #expect(replies.map(\.code) == [220, 250, 354], "split at \(split)")
            #expect(replies[1].enhanced == nil, "2.0.0 on a later line is text")
        }
    }

    @Test func protocolErrors() {
        for bad in ["hello\r\n", "25\r\n", "250-a\r\n251 b\r\n", "250*x\r\n", "999 x\r\n"] {
            var parser = SMTPReplyParser()
            parser.feed(Array(bad.utf8))
            #expect(throws: SMTPReplyParser.Problem.self, "\(bad.debugDescription)") {
                while try parser.next() != nil {}
            }
        }
        var parser = SMTPReplyParser()
        parser.feed([UInt8](repeating: 65, count: 5000))
        #expect(throws: SMTPReplyParser.Problem.tooLong) { try parser.next() }
    }
}

@Suite struct SMTPClientTransactionTests {
    let capabilities = SMTPServerCapabilities(
        ehlo: SMTPReply(code: 250, enhanced: nil, lines: ["mx", "PIPELINING", "8BITMIME", "SIZE 100000"]))

    @Test func dotStuffingOnlyAtLineStarts() {
        let t = SMTPClientTransaction(sender: "", recipients: ["a@b"], body: Array(".one\r\ntwo.\r\n..three\r\n.\r\n".utf8),
                                      needsSMTPUTF8: false)
        #expect(String(decoding: t.encodedBody(), as: UTF8.self) == "..one\r\ntwo.\r\n...three\r\n..\r\n.\r\n")
        let unterminated = SMTPClientTransaction(sender: "", recipients: ["a@b"], body: Array("x".utf8), needsSMTPUTF8: false)
        #expect(String(decoding: unterminated.encodedBody(), as: UTF8.self) == "x\r\n.\r\n")
        // A bare LF or CR does not start a line; CR LF right after one does end it.
        let bare = SMTPClientTransaction(sender: "", recipients: ["a@b"], body: Array("a\n.b\r.c\r\r\n.d\n\r\n.".utf8),
                                         needsSMTPUTF8: false)
        #expect(String(decoding: bare.encodedBody(), as: UTF8.self) == "a\n.b\r.c\r\r\n..d\n\r\n..\r\n.\r\n")
    }

    @Test func commandsFollowTheServersExtensions() {
        let t = SMTPClientTransaction(sender: "SRS0=x@relay", recipients: ["r1@d", "r2@d"], body: [0xC3, 0xA9, 13, 10],
                                      needsSMTPUTF8: false)
        #expect(t.envelopeCommands(for: capabilities) == [
            "MAIL FROM:<SRS0=x@relay> SIZE=4 BODY=8BITMIME", "RCPT TO:<r1@d>", "RCPT TO:<r2@d>", "DATA",
        ])
        #expect(t.refusal(by: capabilities) == nil)
        let pipeliningOnly = SMTPServerCapabilities(ehlo: SMTPReply(code: 250, enhanced: nil, lines: ["mx", "PIPELINING", "8BITMIME"]))
        #expect(t.envelopeCommands(for: pipeliningOnly).first == "MAIL FROM:<SRS0=x@relay> BODY=8BITMIME",
                "SIZE= only to a server that announced SIZE")
        let sizeNoLimit = SMTPServerCapabilities(ehlo: SMTPReply(code: 250, enhanced: nil, lines: ["mx", "SIZE"]))
        #expect(sizeNoLimit.size && sizeNoLimit.maxSize == nil)
        #expect(t.envelopeCommands(for: sizeNoLimit).first == "MAIL FROM:<SRS0=x@relay> SIZE=4")
        #expect(t.refusal(by: .none)?.enhanced == "5.6.3", "8-bit data to a hop without 8BITMIME is returned")
        let utf8 = SMTPClientTransaction(sender: "", recipients: ["ré@d"], body: [], needsSMTPUTF8: true)
        #expect(utf8.refusal(by: capabilities)?.code == 553)
        let big = SMTPClientTransaction(sender: "", recipients: ["r@d"], body: .init(repeating: 65, count: 200_000),
                                        needsSMTPUTF8: false)
        #expect(big.refusal(by: capabilities)?.code == 552)
    }

    @Test func outcomesPerRecipient() {
        let t = SMTPClientTransaction(sender: "", recipients: ["a@d", "b@d", "c@d"], body: [], needsSMTPUTF8: false)
        let ok = SMTPReply(250, nil, "ok")
        let outcomes = t.outcomes(
            mail: ok, recipients: [ok, SMTPReply(550, "5.1.1", "no"), SMTPReply(450, nil, "later")],
            data: SMTPReply(354, nil, "go"), final: SMTPReply(250, nil, "queued"))
        #expect(outcomes == [.delivered(SMTPReply(250, nil, "queued")), .failed(SMTPReply(550, "5.1.1", "no")),
                             .deferred(SMTPReply(450, nil, "later"))])
        let mailRefused = t.outcomes(mail: SMTPReply(421, nil, "busy"), recipients: [], data: nil, final: nil)
        #expect(mailRefused.allSatisfy { if case .deferred = $0 { true } else { false } })
        let cut = t.outcomes(mail: ok, recipients: [ok, ok, ok], data: SMTPReply(354, nil, "go"), final: nil)
        #expect(cut.allSatisfy { if case .deferred(let r) = $0 { r.code == 451 } else { false } })
        let finalRefused = t.outcomes(mail: ok, recipients: [ok, ok, ok], data: SMTPReply(354, nil, "go"),
                                      final: SMTPReply(554, "5.7.1", "spam"))
        #expect(finalRefused.allSatisfy { if case .failed = $0 { true } else { false } })
    }
}
