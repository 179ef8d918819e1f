import Foundation
import MailCore
import Testing

@testable import Relay

@Suite struct RetryScheduleTests {
    @Test func backoffDoublesUpToTheMaximum() {
        let s = RetrySchedule(first: .seconds(300), maximum: .seconds(4000), lifetime: .seconds(5 * 86_400))
        #expect((1...6).map { s.delay(afterAttempt: $0) } == [.seconds(300), .seconds(600), .seconds(1200), .seconds(2400),
                                                           .seconds(4000), .seconds(4000)])
        #expect(!s.expired(age: .seconds(86_400)))
        #expect(s.expired(age: .seconds(5 * 86_400)))
    }
}

@Suite struct RecipientPolicyTests {
    @Test func extensionsAreIgnoredForLookup() throws {
        #expect(RecipientPolicy.lookupAddress(try EmailAddress(parsing: "shop+news@Relay.Test")) == "shop@relay.test")
        #expect(RecipientPolicy.lookupAddress(try EmailAddress(parsing: "shop@relay.test")) == "shop@relay.test")
    }

    @Test func srsLocalParts() {
        #expect(RecipientPolicy.looksLikeSRS("SRS0=abcd=TT=example.com=bob"))
        #expect(RecipientPolicy.looksLikeSRS("srs1=x"))
        #expect(!RecipientPolicy.looksLikeSRS("srs"))
        #expect(!RecipientPolicy.looksLikeSRS("shop"))
    }

    @Test func metricsText() {
        let metrics = NodeMetrics()
        metrics.accepted()
        metrics.rejected(.unknown_alias)
        metrics.setQueueDepth(3)
        let text = metrics.prometheusText()
        #expect(text.contains("postern_messages_accepted_total 1\n"))
        #expect(text.contains("postern_recipients_rejected_total{reason=\"unknown_alias\"} 1\n"))
        #expect(text.contains("postern_queue_depth 3\n"))
        #expect(text.contains("# TYPE postern_queue_depth gauge\n"))
    }
}
