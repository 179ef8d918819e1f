import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import Relay

private actor PriorityCounter {
    var seen: [DeliveryThreadsTests.Priority] = []
    func note() { seen.append(DeliveryThreadsTests.priority()) }
}

/// Delivery attempts run on the node's lower-priority threads, and every job given to them runs.
@Suite struct DeliveryThreadsTests {
    struct Priority: Equatable, CustomStringConvertible {
        var policy: Int32
        var nice: Int32
        var description: String { "policy \(policy), nice \(nice)" }
    }

    /// The scheduling policy and nice value of the thread this runs on.
    static func priority() -> Priority {
        errno = 0
        return Priority(policy: sched_getscheduler(0), nice: getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0))
    }

    static let idle = Priority(policy: 5, nice: 0)  // SCHED_IDLE
    static let nice10 = Priority(policy: 0, nice: 10)  // SCHED_OTHER

    @Test func theQuietPoolRunsUnderTheIdlePolicyAndTheBusyOneAtNiceTen() async {
        let outside = Self.priority()
        let quiet = await Task(executorPreference: DeliveryThreads.quiet) { Self.priority() }.value
        let busy = await Task(executorPreference: DeliveryThreads.busy) { Self.priority() }.value
        #expect(quiet == Self.idle)
        #expect(busy == Self.nice10)
        #expect(outside.policy == 0 && outside.nice < 10, "the rest of the node keeps its priority: \(outside)")
    }

    @Test func aFewAttemptsAtOnceGoToTheQuietPoolMoreToTheBusyOne() {
        #expect(DeliveryThreads.forLoad(running: 0) === DeliveryThreads.quiet)
        #expect(DeliveryThreads.forLoad(running: DeliveryThreads.busyFrom - 1) === DeliveryThreads.quiet)
        #expect(DeliveryThreads.forLoad(running: DeliveryThreads.busyFrom) === DeliveryThreads.busy)
        #expect(DeliveryThreads.forLoad(running: 64) === DeliveryThreads.busy)
    }

    @Test(arguments: [true, false]) func childTasksAndActorsCalledFromThereRunThereToo(quiet: Bool) async {
        let counter = PriorityCounter()
        let values = await Task(executorPreference: quiet ? DeliveryThreads.quiet : DeliveryThreads.busy) {
            await withTaskGroup(of: Priority.self) { group in
                for _ in 0..<8 { group.addTask { await counter.note(); return Self.priority() } }
                return await group.reduce(into: []) { $0.append($1) }
            }
        }.value
        let expected = quiet ? Self.idle : Self.nice10
        #expect(values == Array(repeating: expected, count: 8))
        #expect(await counter.seen == Array(repeating: expected, count: 8))
    }

    @Test func everyJobRunsUnderLoad() async {
        let done = await withTaskGroup(of: Int.self) { group in
            for number in 0..<5000 {
                group.addTask(executorPreference: number % 2 == 0 ? DeliveryThreads.quiet : DeliveryThreads.busy) {
                    await Task.yield()
                    return 1
                }
            }
            return await group.reduce(0, +)
        }
        #expect(done == 5000)
    }
}
