import MailCore
import Testing

@Suite struct MIMEEntityTests {
    static func crlf(_ text: String) -> [UInt8] { Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8) }

    @Test func nestedMultipartsAreFoundWithTheirBodies() {
        let message = Self.crlf("""
            Content-Type: multipart/mixed; boundary="outer"

            preamble
            --outer
            Content-Type: multipart/alternative; boundary=inner

            --inner
            Content-Type: text/plain

            plain
            --inner
            Content-Type: text/html

            <p>html</p>
            --inner--
            --outer
            Content-Type: application/pdf

            JVBERi0=
            --outer--
            epilogue

            """)
        let root = MIMEEntity(message: message)
        #expect(root.contentType.mimeType == "multipart/mixed")
        #expect(root.parts.map(\.contentType.mimeType) == ["multipart/alternative", "application/pdf"])
        #expect(root.parts[0].parts.map(\.contentType.mimeType) == ["text/plain", "text/html"])
        let bodies = root.allEntities.filter { $0.parts.isEmpty }.map { String(decoding: message[$0.bodyRange], as: UTF8.self) }
        #expect(bodies == ["plain", "<p>html</p>", "JVBERi0="], "the line end before a boundary belongs to the boundary")
    }

    @Test func lenientWithMissingClosingDelimitersAndDefaults() {
        let message = Self.crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nno header here\n--b\nContent-Type: TEXT/HTML; Charset=\"UTF-8\"\n\nunclosed\n")
        let root = MIMEEntity(message: message)
        #expect(root.parts.count == 2)
        #expect(root.parts[0].contentType == ContentType.textPlain, "a part without Content-Type is text/plain")
        #expect(root.parts[1].contentType.mimeType == "text/html")
        #expect(root.parts[1].contentType.parameters["charset"] == "UTF-8")
        #expect(String(decoding: message[root.parts[1].bodyRange], as: UTF8.self) == "unclosed\r\n")
    }

    @Test(.timeLimit(.minutes(1))) func manyPartsStopAtTheLimit() {
        let message = Self.crlf("Content-Type: multipart/mixed; boundary=a\n\n" + String(repeating: "--a\n", count: 50_000))
        let root = MIMEEntity(message: message)
        #expect(root.parts.count <= MIMEEntity.maxParts)
        #expect(root.allEntities.count <= MIMEEntity.maxEntities)
    }

    @Test func invalidBase64IsLeftAlone() {
        let message = Self.crlf("Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\nthis is = not base64!\n")
        let out = Banner(location: .top, alias: "shop@relay.test", sender: nil, deactivateLink: nil).insert(into: message)
        #expect(out == message)
    }

    @Test func deepNestingStopsAtTheLimit() {
        var message = ""
        for depth in 0..<200 { message += "Content-Type: multipart/mixed; boundary=b\(depth)\n\n--b\(depth)\n" }
        let root = MIMEEntity(message: Self.crlf(message))
        #expect(root.allEntities.count <= MIMEEntity.maxDepth + 1)
    }
}

@Suite struct DeliveryReportTests {
    func report(status: String, action: String = "failed", diagnostic: String) -> [UInt8] {
        MIMEEntityTests.crlf("""
            From: MAILER-DAEMON@mx.example
            Content-Type: multipart/report; report-type=delivery-status; boundary="R"

            --R
            Content-Type: text/plain

            Sorry.
            --R
            Content-Type: message/delivery-status

            Reporting-MTA: dns; mx.example

            Final-Recipient: rfc822; alice@dest.test
            Action: \(action)
            Status: \(status) (permanent failure)
            Diagnostic-Code: smtp; \(diagnostic)
            --R
            Content-Type: message/rfc822

            From: "Bob" <shop+bob=sender.test@relay.test>
            X-Postern-Alias: shop@relay.test
            Subject: hi

            body
            --R--

            """)
    }

    @Test func failuresAndTheReturnedAlias() throws {
        let parsed = try #require(DeliveryReport(report(status: "5.1.1", diagnostic: "550 5.1.1 User unknown")))
        #expect(parsed.reportingMTA == "mx.example")
        #expect(parsed.failed.map(\.address) == ["alice@dest.test"])
        #expect(parsed.failed.first?.status == "5.1.1")
        #expect(parsed.failed.first?.bounceType == .hard)
        #expect(parsed.failed.first?.remoteMTA == nil)
        #expect(parsed.returned("X-Postern-Alias") == "shop@relay.test")
    }

    @Test func bounceTypes() throws {
        #expect(DeliveryReport(report(status: "5.7.1", diagnostic: "550 5.7.1 rejected"))?.failed.first?.bounceType == .spam)
        #expect(DeliveryReport(report(status: "5.0.0", diagnostic: "554 listed on a blocklist"))?.failed.first?.bounceType == .spam)
        #expect(DeliveryReport(report(status: "4.2.2", diagnostic: "452 mailbox full"))?.failed.first?.bounceType == .soft)
        #expect(DeliveryReport(report(status: "4.4.1", action: "delayed", diagnostic: "timeout"))?.failed.isEmpty == true,
                "a delay is not a failure")
    }

    @Test(.timeLimit(.minutes(1))) func aReportOfBlankLinesIsCheap() {
        let blank = String(repeating: "\n", count: 1_000_000)
        let message = MIMEEntityTests.crlf("Content-Type: multipart/report; boundary=R\n\n--R\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n" + blank + "--R--\n")
        #expect(DeliveryReport(message)?.failed.isEmpty == true)
    }

    @Test func ordinaryMailIsNoReport() {
        #expect(DeliveryReport(MIMEEntityTests.crlf("From: a@b.example\nSubject: out of office\n\nI am away.\n")) == nil)
    }
}
