import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import Relay

private actor PolicyCounter {
    var seen: [Int32] = []
    func note() { seen.append(DeliveryThreadsTests.policy()) }
}

/// Delivery attempts run on the node's lowest-priority threads, and every job given to them runs.
@Suite struct DeliveryThreadsTests {
    /// The scheduling policy of the thread this runs on.
    static func policy() -> Int32 { sched_getscheduler(0) }

    @Test func aTaskThatPrefersThemRunsUnderTheIdlePolicy() async {
        let outside = Self.policy()
        let inside = await Task(executorPreference: DeliveryThreads.shared) { Self.policy() }.value
        #expect(inside == 5, "SCHED_IDLE")
        #expect(outside == 0, "SCHED_OTHER: the rest of the node keeps its priority")
    }

    @Test func childTasksAndActorsCalledFromThereRunThereToo() async {
        let counter = PolicyCounter()
        let values = await Task(executorPreference: DeliveryThreads.shared) {
            await withTaskGroup(of: Int32.self) { group in
                for _ in 0..<8 { group.addTask { await counter.note(); return Self.policy() } }
                return await group.reduce(into: []) { $0.append($1) }
            }
        }.value
        #expect(values == Array(repeating: 5, count: 8))
        #expect(await counter.seen == Array(repeating: 5, count: 8))
    }

    @Test func everyJobRunsUnderLoad() async {
        let done = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<5000 {
                group.addTask(executorPreference: DeliveryThreads.shared) {
                    await Task.yield()
                    return 1
                }
            }
            return await group.reduce(0, +)
        }
        #expect(done == 5000)
    }
}
