import Foundation
import MailCore
import Testing

@testable import Directory

/// The alias cache as a value: lifetime, forgetting on a moved counter or a local change, answers
/// read before a change not kept after it, suspension while the counter is unreadable, the bound.
@Suite struct AliasRoutingCacheTests {
    static func routing(_ email: String, active: Bool = true) -> AliasRouting {
        AliasRouting(aliasID: "id-" + email, userID: "u", email: email, active: active, deleted: false, rejectDeactivated: false,
                     overBandwidth: false, overRate: false, destinations: [.init(recipientID: "r", email: "me@dest.test")],
                     style: ForwardingStyle(), fromName: nil, unverifiedDomain: false)
    }

    @Test func answersLiveForTheirLifetime() {
        let cache = AliasRoutingCache(lifetime: .seconds(5))
        cache.keep(nil, for: "early@relay.test", at: 99, generation: cache.generation)
        #expect(cache.answer(for: "early@relay.test", at: 99) == nil, "nothing is kept before the counter was read")
        cache.follow(counter: 0)
        #expect(cache.answer(for: "shop@relay.test", at: 100) == nil)
        cache.keep(Self.routing("shop@relay.test"), for: "shop@relay.test", at: 100, generation: cache.generation)
        cache.keep(nil, for: "nobody@relay.test", at: 100, generation: cache.generation)
        #expect(cache.answer(for: "shop@relay.test", at: 104.9) == .some(Self.routing("shop@relay.test")))
        #expect(cache.answer(for: "nobody@relay.test", at: 104.9) == .some(nil), "no such alias is kept too")
        #expect(cache.answer(for: "shop@relay.test", at: 105) == nil, "gone after 5 s")
        #expect(cache.counts.hits == 2)
        #expect(cache.counts.misses == 3)
    }

    @Test func aMovedCounterOrALocalChangeForgetsEverything() {
        let cache = AliasRoutingCache()
        #expect(cache.follow(counter: 7) == false, "the first read only sets where the counter stands")
        cache.keep(Self.routing("a@x"), for: "a@x", at: 0, generation: cache.generation)
        #expect(cache.follow(counter: 7) == false)
        #expect(cache.answer(for: "a@x", at: 1) != nil)
        #expect(cache.follow(counter: 8) == true)
        #expect(cache.answer(for: "a@x", at: 1) == nil)
        cache.keep(Self.routing("a@x"), for: "a@x", at: 0, generation: cache.generation)
        cache.forgetAll()
        #expect(cache.answer(for: "a@x", at: 1) == nil)
    }

    @Test func anAnswerReadBeforeAChangeIsNotKept() {
        let cache = AliasRoutingCache()
        cache.follow(counter: 0)
        let before = cache.generation
        cache.forgetAll()  // the change lands while the lookup is in the database
        cache.keep(Self.routing("a@x", active: true), for: "a@x", at: 0, generation: before)
        #expect(cache.answer(for: "a@x", at: 1) == nil)
    }

    @Test func nothingIsAnsweredWhileTheCounterCannotBeRead() {
        let cache = AliasRoutingCache()
        cache.follow(counter: 1)
        cache.keep(Self.routing("a@x"), for: "a@x", at: 0, generation: cache.generation)
        cache.suspend()
        #expect(cache.answer(for: "a@x", at: 1) == nil)
        cache.keep(Self.routing("a@x"), for: "a@x", at: 1, generation: cache.generation)
        #expect(cache.answer(for: "a@x", at: 2) == nil, "nothing is kept while suspended")
        cache.follow(counter: 1)
        cache.keep(Self.routing("a@x"), for: "a@x", at: 2, generation: cache.generation)
        #expect(cache.answer(for: "a@x", at: 3) != nil)
    }

    @Test func theCacheIsBounded() {
        let cache = AliasRoutingCache(lifetime: .seconds(5), capacity: 3)
        cache.follow(counter: 0)
        for i in 0..<3 { cache.keep(nil, for: "\(i)@x", at: 0, generation: cache.generation) }
        cache.keep(nil, for: "3@x", at: 10, generation: cache.generation)  // the first three have run out
        #expect(cache.answer(for: "3@x", at: 11) == .some(nil))
        #expect(cache.answer(for: "0@x", at: 11) == nil)
        for i in 4..<6 { cache.keep(nil, for: "\(i)@x", at: 10, generation: cache.generation) }
        cache.keep(nil, for: "6@x", at: 10, generation: cache.generation)  // full of live answers: start again
        #expect(cache.answer(for: "6@x", at: 11) == .some(nil))
        #expect(cache.answer(for: "3@x", at: 11) == nil)
    }
}
