import SMTPCore
import Testing

/// Feeds input in every possible split (and byte by byte), switching to message mode after DATA
/// the way a server that answers 354 does, and collects the events.
func frame(_ input: [UInt8], splits: [Int], maxMessageSize: Int = 1 << 20) -> [SMTPInputFramer.Event] {
    var framer = SMTPInputFramer()
    var events: [SMTPInputFramer.Event] = []
    var start = 0
    for end in splits + [input.count] where end >= start {
        framer.feed(input[start..<end])
        start = end
        while let event = framer.next() {
            events.append(event)
            if event == .command("DATA") { framer.beginMessage(maxSize: maxMessageSize) }
        }
    }
    return events
}

/// The same events however the input is cut.
func framedEveryWay(_ text: String, maxMessageSize: Int = 1 << 20) -> [SMTPInputFramer.Event] {
    let input = Array(text.utf8)
    let whole = frame(input, splits: [], maxMessageSize: maxMessageSize)
    for cut in 0...input.count {
        #expect(frame(input, splits: [cut], maxMessageSize: maxMessageSize) == whole, "split at \(cut)")
    }
    #expect(frame(input, splits: Array(0...input.count), maxMessageSize: maxMessageSize) == whole, "byte by byte")
    return whole
}

@Suite struct SMTPInputFramerTests {
    @Test func commandsEndOnlyAtCRLF() {
        #expect(framedEveryWay("EHLO a\r\nMAIL FROM:<b@c>\r\nRCPT TO:<d@e>\r\n") == [
            .command("EHLO a"), .command("MAIL FROM:<b@c>"), .command("RCPT TO:<d@e>"),
        ])
        #expect(framedEveryWay("EHLO a\nMAIL FROM:<b@c>\r\nNOOP\r\n") == [.commandMalformed, .command("NOOP")])
        #expect(framedEveryWay("NOOP\rQUIT\r\nNOOP\r\n") == [.commandMalformed, .command("NOOP")])
        #expect(framedEveryWay("NOOP\r\nQUIT") == [.command("NOOP")], "no CR LF yet: no command")
        #expect(framedEveryWay("EHLO \u{FF}\r\n".unicodeScalars.map { String($0) }.joined()) == [.command("EHLO \u{FF}")])
    }

    @Test func overlongCommandLinesAreRefusedWithoutBufferingThem() {
        let long = "NOOP " + String(repeating: "x", count: 100_000) + "\r\nQUIT\r\n"
        var framer = SMTPInputFramer()
        var events: [SMTPInputFramer.Event] = []
        var peak = 0
        for chunk in Array(long.utf8).chunked(by: 1000) {
            framer.feed(chunk)
            peak = max(peak, framer.bufferedByteCount)
            while let event = framer.next() { events.append(event) }
        }
        #expect(events == [.commandTooLong, .command("QUIT")])
        #expect(peak < 2000, "held \(peak) bytes")
        #expect(framedEveryWay(String(repeating: "a", count: 510) + "\r\nQUIT\r\n") == [.command(String(repeating: "a", count: 510)), .command("QUIT")])
        #expect(framedEveryWay(String(repeating: "a", count: 511) + "\r\nQUIT\r\n") == [.commandTooLong, .command("QUIT")])
    }

    @Test func messagesAreDotUnstuffedAndEndOnlyAtCRLFDotCRLF() {
        let events = framedEveryWay("DATA\r\nSubject: hi\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n")
        #expect(events == [
            .command("DATA"), .message(.success(Array("Subject: hi\r\n\r\n.leading dot\r\n".utf8))), .command("QUIT"),
        ])
        #expect(framedEveryWay("DATA\r\n.\r\n") == [.command("DATA"), .message(.success([]))])
        #expect(framedEveryWay("DATA\r\n..\r\n.\r\n") == [.command("DATA"), .message(.success(Array(".\r\n".utf8)))])
        #expect(framedEveryWay("DATA\r\nno end yet\r\n.") == [.command("DATA")])
        #expect(framedEveryWay("DATA\r\nx\r\n. \r\n.x\r\n.\r\n") == [.command("DATA"), .message(.success(Array("x\r\n \r\nx\r\n".utf8)))])
        let eightBit = "DATA\r\nGr\u{FC}\u{DF}e \u{1F600}\r\n.\r\n"
        #expect(framedEveryWay(eightBit) == [.command("DATA"), .message(.success(Array("Gr\u{FC}\u{DF}e \u{1F600}\r\n".utf8)))])
    }

    /// The SMTP smuggling variants (SEC Consult, 2023, and the follow-ups): none may end the message,
    /// so the "second message" is part of one rejected message and never runs as commands.
    @Test(arguments: [
        "\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r\n.\r", "\r.\n", "\n.\r", "\r.\r\n", "\r\n.\r\r\n",
        "\n\n.\n\n", "\r\r.\r\r", "\r\n\n.\r\n",
    ])
    func smugglingVariantsNeverEndAMessage(variant: String) {
        let smuggled = "MAIL FROM:<ceo@bank.example>\r\nRCPT TO:<victim@relay.test>\r\nDATA\r\nFrom: ceo@bank.example\r\n\r\nwire money\r\n.\r\n"
        let events = framedEveryWay("DATA\r\nSubject: harmless\r\n\r\nbody" + variant + smuggled + "QUIT\r\n")
        #expect(events == [.command("DATA"), .message(.failure(.bareLineEnding)), .command("QUIT")],
                "variant \(variant.debugDescription)")
    }

    @Test func oversizedMessagesAreRefusedAtTheirEndWithBoundedMemory() {
        var framer = SMTPInputFramer()
        framer.feed(Array("DATA\r\n".utf8))
        #expect(framer.next() == .command("DATA"))
        framer.beginMessage(maxSize: 10_000)
        var events: [SMTPInputFramer.Event] = []
        let line = Array((String(repeating: "y", count: 78) + "\r\n").utf8)
        for _ in 0..<10_000 {
            framer.feed(line)
            while let event = framer.next() { events.append(event) }
        }
        #expect(events.isEmpty)
        framer.feed(Array(".\r\nNOOP\r\n".utf8))
        while let event = framer.next() { events.append(event) }
        #expect(events == [.message(.failure(.tooBig)), .command("NOOP")])
        #expect(framedEveryWay("DATA\r\n" + String(repeating: "z", count: 40) + "\r\n.\r\n", maxMessageSize: 42)
            == [.command("DATA"), .message(.success(Array((String(repeating: "z", count: 40) + "\r\n").utf8)))])
        #expect(framedEveryWay("DATA\r\n" + String(repeating: "z", count: 41) + "\r\n.\r\n", maxMessageSize: 42)
            == [.command("DATA"), .message(.failure(.tooBig))])
    }

    @Test func textLinesOver1000OctetsAreRefused() {
        let ok = String(repeating: "a", count: 998)
        #expect(framedEveryWay("DATA\r\n" + ok + "\r\n.\r\n") == [.command("DATA"), .message(.success(Array((ok + "\r\n").utf8)))])
        #expect(framedEveryWay("DATA\r\n" + ok + "a\r\n.\r\n") == [.command("DATA"), .message(.failure(.lineTooLong))])
        // A stuffing dot counts in the line's length (it is on the wire).
        #expect(framedEveryWay("DATA\r\n." + String(ok.dropLast()) + "\r\n.\r\n")
            == [.command("DATA"), .message(.success(Array((String(ok.dropLast()) + "\r\n").utf8)))])
        #expect(framedEveryWay("DATA\r\n." + ok + "\r\n.\r\n") == [.command("DATA"), .message(.failure(.lineTooLong))])
    }

    /// The first problem in the message is the one reported, wherever the input was cut.
    @Test func theFirstProblemIsReported() {
        let long = String(repeating: "b", count: 998)
        #expect(framedEveryWay("DATA\r\n" + long + "\nmore\r\n.\r\n") == [.command("DATA"), .message(.failure(.bareLineEnding))],
                "a bare LF at the 999th octet comes before the line is too long")
        #expect(framedEveryWay("DATA\r\n" + long + "c\nmore\r\n.\r\n") == [.command("DATA"), .message(.failure(.lineTooLong))])
        #expect(framedEveryWay("DATA\r\nx\ry\r\n" + long + "cc\r\n.\r\n") == [.command("DATA"), .message(.failure(.bareLineEnding))])
        #expect(framedEveryWay("DATA\r\n" + long + "cc\r\nx\ry\r\n.\r\n") == [.command("DATA"), .message(.failure(.lineTooLong))])
    }

    @Test func tenThousandPipelinedCommandsAllFrame() {
        var framer = SMTPInputFramer()
        framer.feed(Array(String(repeating: "NOOP\r\n", count: 10_000).utf8))
        var count = 0
        while let event = framer.next() {
            #expect(event == .command("NOOP"))
            count += 1
        }
        #expect(count == 10_000)
        #expect(framer.bufferedByteCount == 0)
    }

    @Test func inputPipelinedBehindSTARTTLSIsDiscarded() {
        var framer = SMTPInputFramer()
        framer.feed(Array("STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\n".utf8))
        #expect(framer.next() == .command("STARTTLS"))
        framer.discardBufferedInput()
        #expect(framer.next() == nil)
        framer.feed(Array("EHLO after-tls\r\n".utf8))
        #expect(framer.next() == .command("EHLO after-tls"))
    }
}

extension Array {
    func chunked(by size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
