import Foundation
import Testing

@testable import Directory

/// The periods limits are counted in: the UTC month of bandwidth, the UTC hour of messages.
@Suite struct CountingPeriodTests {
    @Test func monthIsUTCYearAndMonth() {
        #expect(MailRouting.month(of: Date(timeIntervalSince1970: 0)) == "1970-01")
        // 2026-11-30 23:59:59 UTC is still November; a second later it is December.
        #expect(MailRouting.month(of: Date(timeIntervalSince1970: 1_796_083_199)) == "2026-11")
        #expect(MailRouting.month(of: Date(timeIntervalSince1970: 1_796_083_200)) == "2026-12")
    }

    @Test func hourStartsOnTheHour() {
        #expect(MailRouting.hour(of: Date(timeIntervalSince1970: 1_796_083_199.5)) == Date(timeIntervalSince1970: 1_796_079_600))
    }

    /// Forward counters of many aliases go in one statement: five placeholders an alias, no values in its text.
    @Test func forwardCountersAreOneStatementOfPlaceholders() {
        for aliases in [1, 2, 64] {
            let statement = MailRouting.forwardCountersStatement(aliases: aliases)
            #expect(statement.filter { $0 == "?" }.count == 5 * aliases)
            #expect(statement.hasPrefix("UPDATE aliases SET emails_forwarded = emails_forwarded + CASE id WHEN ? THEN ?"))
        }
    }
}
