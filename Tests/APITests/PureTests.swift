@testable import API
import Directory
import Foundation
import Testing

@Suite struct JSONValueTests {
    @Test func serialisesInOrderWithNullsAndEscapes() {
        let value = JSONValue.object([
            ("b", .int(1)), ("a", .null), ("s", .string("quote \" back \\ nl \n tab \t ctl \u{1} ü 😀")),
            ("list", .array([.bool(true), .bool(false), .double(1.5)])),
        ])
        #expect(String(decoding: value.serialized, as: UTF8.self)
            == #"{"b":1,"a":null,"s":"quote \" back \\ nl \n tab \t ctl \u0001 ü 😀","list":[true,false,1.5]}"#)
    }

    @Test func parsesObjectsAndRejectsBadInput() {
        #expect(JSONValue.parse(Array(#"{"a": [1, "x", null, true]}"#.utf8))?["a"]
            == .array([.int(1), .string("x"), .null, .bool(true)]))
        #expect(JSONValue.parse(Array("{not json".utf8)) == nil)
        #expect(JSONValue.parse([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]) == nil)  // invalid UTF-8
    }

    @Test func formatsTimesLikeAddy() {
        #expect(APITime.format(Date(timeIntervalSince1970: 1_767_225_600.9)) == "2026-01-01 00:00:00")
        #expect(APITime.json(nil) == .null)
    }
}

@Suite struct QueryAndLimitTests {
    @Test func decodesBracketedKeysAndPlus() {
        let query = QueryParameters("page%5Bnumber%5D=2&filter[search]=a+b%25&sort=-created_at&empty")
        #expect(query["page[number]"] == "2")
        #expect(query["filter[search]"] == "a b%")
        #expect(query["sort"] == "-created_at")
        #expect(query["empty"] == nil)
        #expect(QueryParameters("filter[active]=&filter[search]=")["filter[active]"] == nil)
        #expect(query["missing"] == nil)
    }

    @Test func rateLimiterAdmitsUpToTheLimitPerWindow() {
        let limiter = RateLimiter(requestsPerMinute: 3)
        #expect((0..<3).allSatisfy { _ in limiter.admit("t", now: 1000) == nil })
        #expect(limiter.admit("t", now: 1010) == 50)  // seconds until the window opens again
        #expect(limiter.admit("other", now: 1010) == nil)
        #expect(limiter.admit("t", now: 1060) == nil)
    }
}

@Suite struct AliasLocalPartTests {
    @Test func randomFormats() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let chars = AliasLocalPart.randomCharacters(using: &generator)
            #expect(chars.count == 8 && chars.allSatisfy { ("0"..."9").contains($0) || ("a"..."z").contains($0) })
            let words = AliasLocalPart.randomWords(using: &generator)
            #expect((try? AliasLocalPart.validatedCustom(words)) == words, "\(words)")
        }
    }

    @Test(arguments: [
        ("Shop", "shop"), ("first.last", "first.last"), ("a_b-c", "a_b-c"), ("x=y", "x=y"),
    ])
    func acceptsCustom(text: String, stored: String) throws {
        #expect(try AliasLocalPart.validatedCustom(text) == stored)
    }

    @Test(arguments: [
        ("", AliasLocalPart.Problem.empty), ("a+b", .plusSign), ("a..b", .notDotAtom), (".a", .notDotAtom),
        ("a b", .notDotAtom), ("ünï", .notDotAtom), ("Postmaster", .reserved), ("abuse", .reserved),
        (String(repeating: "x", count: 65), .tooLong), ("a'; DROP TABLE aliases;--", .notDotAtom),
    ])
    func refusesCustom(text: String, problem: AliasLocalPart.Problem) {
        #expect(throws: problem) { try AliasLocalPart.validatedCustom(text) }
    }
}
