@testable import Cluster
import Foundation
import Spool
import Storage
import TestSupport
import Testing

/// The role decision as a pure value.
@Suite struct LeaseDecisionTests {
    typealias Lease = LeaseDecision.Lease

    @Test func theHolderRenewsAndGivesUpOnlyForAHandoffADrainOrAStop() {
        let held = Lease(holder: "a", epoch: 3, expired: false, handoffTo: nil)
        #expect(LeaseDecision.decide(held, me: "a", draining: false, autoFailover: true) == .renew)
        #expect(LeaseDecision.decide(held, me: "a", draining: true, autoFailover: true) == .release)
        #expect(LeaseDecision.decide(held, me: "a", draining: false, autoFailover: true, stopping: true) == .release)
        let handoff = Lease(holder: "a", epoch: 3, expired: false, handoffTo: "b")
        #expect(LeaseDecision.decide(handoff, me: "a", draining: false, autoFailover: true) == .release)
        #expect(LeaseDecision.decide(handoff, me: "b", draining: false, autoFailover: true) == .standBy, "b waits for a to let go")
        // Expired in the database's clock: the holder still tries to renew (the compare-and-set tells).
        #expect(LeaseDecision.decide(Lease(holder: "a", epoch: 3, expired: true, handoffTo: nil), me: "a", draining: false,
                                     autoFailover: true) == .renew)
    }

    @Test func aStandbyTakesAFreeOrExpiredLeaseUnlessItIsBeingHandedToAnother() {
        #expect(LeaseDecision.decide(Lease(holder: nil, epoch: 0, expired: true, handoffTo: nil), me: "b", draining: false,
                                     autoFailover: false) == .acquire, "a free lease is taken even without auto-failover")
        let expired = Lease(holder: "a", epoch: 3, expired: true, handoffTo: nil)
        #expect(LeaseDecision.decide(expired, me: "b", draining: false, autoFailover: true) == .acquire)
        #expect(LeaseDecision.decide(expired, me: "b", draining: false, autoFailover: false) == .standBy)
        #expect(LeaseDecision.decide(expired, me: "b", draining: true, autoFailover: true) == .standBy)
        #expect(LeaseDecision.decide(Lease(holder: "a", epoch: 3, expired: false, handoffTo: nil), me: "b", draining: false,
                                     autoFailover: true) == .standBy)
        let toC = Lease(holder: nil, epoch: 3, expired: true, handoffTo: "c")
        #expect(LeaseDecision.decide(toC, me: "b", draining: false, autoFailover: true) == .standBy)
        #expect(LeaseDecision.decide(toC, me: "c", draining: false, autoFailover: false) == .acquire)
    }
}

/// The lease row and the shared queue against a real MariaDB.
@Suite struct ClusterStoreTests {
    func migratedPool() async throws -> ConnectionPool { try await TestDatabase.migratedPool() }

    @Test func oneHolderAtATimeWithAGrowingEpoch() async throws {
        let pool = try await migratedPool()
        let lease = ActiveLease(pool: pool)
        let first = try #require(try await lease.acquire(node: "a", for: .seconds(30), autoFailover: true))
        #expect(try await lease.acquire(node: "b", for: .seconds(5), autoFailover: true) == nil, "held and not expired")
        #expect(try await lease.renew(node: "a", epoch: first, for: .seconds(30)))
        #expect(try await !lease.renew(node: "b", epoch: first, for: .seconds(5)))
        #expect(try await lease.startRun("job", node: "a", epoch: first) != nil)
        #expect(try await lease.startRun("job", node: "b", epoch: first) == nil, "fenced: b does not hold it")

        // A holder whose lease lapsed (a database outage) renews it while nobody took it: the role
        // does not stay vacant when no standby may take it.
        #expect(try await lease.renew(node: "a", epoch: first, for: .microseconds(1)))
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await lease.read().lease.expired)
        #expect(try await lease.renew(node: "a", epoch: first, for: .seconds(30)))
        #expect(try await !lease.read().lease.expired)

        // a goes quiet; once the lease expires (made to at once here), b takes it with a new epoch,
        // and a is fenced off.
        #expect(try await lease.renew(node: "a", epoch: first, for: .microseconds(1)))
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await lease.acquire(node: "b", for: .seconds(5), autoFailover: false) == nil, "no auto-failover")
        let second = try #require(try await lease.acquire(node: "b", for: .seconds(5), autoFailover: true))
        #expect(second == first + 1)
        #expect(try await !lease.renew(node: "a", epoch: first, for: .seconds(5)))
        #expect(try await lease.startRun("job", node: "a", epoch: first) == nil)

        // A planned handoff to c: b releases, only c may take it.
        try await lease.requestHandoff(to: "c", within: .seconds(10))
        #expect(try await lease.read().lease.handoffTo == "c")
        try await lease.release(node: "b", epoch: second)
        #expect(try await lease.acquire(node: "a", for: .seconds(5), autoFailover: true) == nil)
        let third = try #require(try await lease.acquire(node: "c", for: .seconds(5), autoFailover: false))
        #expect(third == second + 1)
        #expect(try await lease.read().lease.handoffTo == nil)
        await pool.close()
    }

    @Test func twoNodesRacingForTheLeaseNeverBothWin() async throws {
        let pool = try await migratedPool()
        let lease = ActiveLease(pool: pool)
        let winners = try await withThrowingTaskGroup(of: UInt64?.self) { group in
            for node in ["a", "b", "c", "d"] {
                group.addTask { try await lease.acquire(node: node, for: .seconds(5), autoFailover: true) }
            }
            var won: [UInt64] = []
            for try await epoch in group { if let epoch { won.append(epoch) } }
            return won
        }
        #expect(winners == [1])
        await pool.close()
    }

    @Test func theSharedQueueHoldsAMessageUntilOneNodeTakesIt() async throws {
        let pool = try await migratedPool()
        let a = SharedDeferredQueue(pool: pool, node: "a")
        let b = SharedDeferredQueue(pool: pool, node: "b")
        let id = QueueID.make()
        let message = SpooledMessage(id: id, receivedAt: Date(), clientAddress: "127.0.0.1", heloName: "client.test",
                                     sender: "bob@sender.test", smtpUTF8: false,
                                     deliveries: [.init(recipient: "alice@dest.test", alias: "shop@relay.test", aliasID: "1",
                                                        userID: "u", recipientID: "r")])
        let body = Array(String(repeating: "Subject: big\r\n\r\n" + String(repeating: "x", count: 70) + "\r\n", count: 3000).utf8)
        try await a.put(message, progress: DeliveryProgress(attempts: 1, nextAttemptAt: Date().addingTimeInterval(3600)), body: body)
        #expect(try await b.claimDue(limit: 10, claimFor: .seconds(60)).isEmpty, "not due yet")
        try await a.put(message, progress: DeliveryProgress(attempts: 2, nextAttemptAt: Date().addingTimeInterval(-1)), body: body)
        #expect(try await a.count() == 1, "a second move replaces the first")
        let stored = try await pool.query("SELECT LENGTH(message) AS n FROM deferred_messages").first?.int("n") ?? 0
        #expect(stored < Int64(body.count / 10), "kept compressed: \(stored) of \(body.count) bytes")

        let taken = try await b.claimDue(limit: 10, claimFor: .seconds(60))
        #expect(taken.count == 1)
        #expect(taken.first?.message == message)
        #expect(taken.first?.body == body)
        #expect(taken.first?.progress.attempts == 2)
        #expect(try await a.claimDue(limit: 10, claimFor: .seconds(60)).isEmpty, "claimed by b")
        #expect(try await !a.delete(id), "not while b takes it")
        try await b.remove(id, claim: taken.first?.claim)
        #expect(try await a.count() == 0)
        await pool.close()
    }
}
