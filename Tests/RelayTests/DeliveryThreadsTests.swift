import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import Relay

private actor NiceCounter {
    var seen: [Int32] = []
    func note() { seen.append(DeliveryThreadsTests.niceness()) }
}

/// Delivery attempts run on the node's lower-priority threads, and every job given to them runs.
@Suite struct DeliveryThreadsTests {
    /// The nice value of the thread this runs on.
    static func niceness() -> Int32 {
        errno = 0
        return getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
    }

    @Test func aTaskThatPrefersThemRunsAtNiceTen() async {
        let outside = Self.niceness()
        let inside = await Task(executorPreference: DeliveryThreads.shared) { Self.niceness() }.value
        #expect(inside == 10)
        #expect(outside < 10, "the rest of the node keeps its priority")
    }

    @Test func childTasksAndActorsCalledFromThereRunThereToo() async {
        let counter = NiceCounter()
        let values = await Task(executorPreference: DeliveryThreads.shared) {
            await withTaskGroup(of: Int32.self) { group in
                for _ in 0..<8 { group.addTask { await counter.note(); return Self.niceness() } }
                return await group.reduce(into: []) { $0.append($1) }
            }
        }.value
        #expect(values == Array(repeating: 10, count: 8))
        #expect(await counter.seen == Array(repeating: 10, count: 8))
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
