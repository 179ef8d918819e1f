import Foundation
import Testing

@testable import MailCore

@Suite struct TraceHeaderTests {
    @Test func receivedLine() {
        let line = TraceHeader.received(helo: "client.example", client: "192.0.2.7", host: "mx.relay.test", tls: true,
                                        smtpUTF8: false, id: "0F1524F87E1E6C90", recipient: "shop@relay.test",
                                        at: Date(timeIntervalSince1970: 1_795_000_000))
        #expect(String(decoding: line, as: UTF8.self) == """
            Received: from client.example ([192.0.2.7])\r\n\tby mx.relay.test (Postern) with ESMTPS id 0F1524F87E1E6C90\r\n\
            \tfor <shop@relay.test>; Wed, 18 Nov 2026 11:06:40 +0000\r\n
            """)
        let odd = TraceHeader.received(helo: "bad (name); x", client: "::1", host: "h", tls: false, smtpUTF8: true, id: "I",
                                       recipient: nil, at: Date(timeIntervalSince1970: 0))
        #expect(String(decoding: odd, as: UTF8.self).hasPrefix("Received: from unknown ([::1])\r\n\tby h (Postern) with UTF8SMTP id I; "))
    }

    @Test func datesAreRFC5322InUTC() {
        #expect(TraceHeader.rfc5322Date(Date(timeIntervalSince1970: 0)) == "Thu, 01 Jan 1970 00:00:00 +0000")
        // 2024-02-29 03:04:05.9 UTC: a leap day, single digits padded, the fraction dropped.
        #expect(TraceHeader.rfc5322Date(Date(timeIntervalSince1970: 1_709_175_845.9)) == "Thu, 29 Feb 2024 03:04:05 +0000")
        #expect(TraceHeader.rfc5322Date(Date(timeIntervalSince1970: 1_798_761_599)) == "Thu, 31 Dec 2026 23:59:59 +0000")
    }

    @Test func hopsAreCountedInTheHeaderOnly() {
        let message = Array("Received: a\r\nRECEIVED: b\r\n\tfolded\r\nSubject: x\r\nreceived:c\r\n\r\nReceived: in the body\r\n".utf8)
        #expect(TraceHeader.hopCount(message) == 3)
        #expect(TraceHeader.hopCount(Array("\r\nReceived: x\r\n".utf8)) == 0)
    }
}
