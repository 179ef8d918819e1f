import Foundation
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where delivery attempts run: threads of their own under `SCHED_IDLE`, the kernel's lowest class.
/// Rewriting and DKIM signing are the node's longest stretches of CPU work. On the task pool, a new
/// attempt woke a thread that could take the CPU from a session about to answer 250 for as long as a
/// signature takes. At nice 10 that got rarer but not rare: a session's event loop woken while an
/// attempt ran still waited for it, up to half a millisecond at the 99th percentile. A thread under
/// `SCHED_IDLE` gives the CPU up as soon as anything else wakes, so sessions, the journal and the event
/// loops always run first and deliveries get the rest. That is enough under a load the machine can
/// carry; beyond it, `DeliveryQueue` holds sessions back before their 250 (its in-flow delay) so that
/// accepting cannot run away from delivering.
final class DeliveryThreads: TaskExecutor {
    /// The policy the threads run under (`SCHED_IDLE` in Linux's sched.h).
    static let policy: Int32 = 5

    /// One pool for the process, a thread per core.
    static let shared = DeliveryThreads(threads: max(2, ProcessInfo.processInfo.activeProcessorCount))

    private let line = Mutex(CircularBuffer<UnownedJob>())
    private let ready = DispatchSemaphore(value: 0)

    private init(threads: Int) {
        for number in 0..<threads {
            let thread = Thread { [self] in
                // On Linux a scheduling policy belongs to a thread: pid 0 is the calling thread only.
                // Lowering one's own priority needs no privilege.
                var parameters = sched_param(sched_priority: 0)
                _ = sched_setscheduler(0, Self.policy, &parameters)
                while true {
                    ready.wait()
                    if let job = next() { job.runSynchronously(on: asUnownedTaskExecutor()) }
                }
            }
            thread.name = "postern.delivery.\(number)"
            thread.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        line.withLock { $0.append(job) }
        ready.signal()
    }

    private func next() -> UnownedJob? {
        line.withLock { $0.popFirst() }
    }
}
