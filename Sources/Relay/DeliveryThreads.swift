import Foundation
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where delivery attempts run: threads of their own at a lower priority than the rest of the node.
/// On the task pool, a new attempt woke a thread that could take the CPU from a session about to
/// answer 250 for as long as rewriting and DKIM signing take, the node's longest stretches of CPU work.
///
/// Two pools:
/// - `busy`, at nice 10: every attempt runs here, its bookkeeping on the queue's actor and its SMTP
///   exchange included (short stretches). A lower priority that still gets its share keeps delivering
///   in step with accepting, and the queue's actor, which sessions also need, is never held by a
///   thread of the idle class, which might not get the CPU back for a long time on a busy machine.
/// - `quiet`, under `SCHED_IDLE`, the kernel's lowest class, for the CPU work of a copy (rewriting,
///   encrypting, signing) while fewer than `busyFrom` attempts run: such a thread gives the CPU up the
///   moment anything else wakes, so a session's event loop never waits behind a signature (at nice 10
///   it still did, up to half a millisecond at the 99th percentile at 200 messages/s). Under a heavier
///   load the CPU is the limit and the work per message counts: being preempted at every wake-up
///   costs more switches and colder caches (about 5% more CPU a message in side-by-side runs), so
///   that work stays on `busy` (`forLoad`).
/// Should new mail pile up all the same, `DeliveryQueue` holds sessions back before their 250 (its
/// in-flow delay).
final class DeliveryThreads: TaskExecutor {
    /// `SCHED_IDLE` in Linux's sched.h.
    static let idlePolicy: Int32 = 5
    /// Attempts running at once from which a copy's CPU work stays on `busy`.
    static let busyFrom = 8

    /// One pool of each kind for the process, a thread per core each.
    static let quiet = DeliveryThreads(threads: max(2, ProcessInfo.processInfo.activeProcessorCount), idle: true)
    static let busy = DeliveryThreads(threads: max(2, ProcessInfo.processInfo.activeProcessorCount), idle: false)

    /// The pool for the CPU work of an attempt started while `running` others were under way.
    static func forLoad(running: Int) -> DeliveryThreads { running < busyFrom ? quiet : busy }

    private let line = Mutex(CircularBuffer<UnownedJob>())
    private let ready = DispatchSemaphore(value: 0)

    private init(threads: Int, idle: Bool) {
        for number in 0..<threads {
            let thread = Thread { [self] in
                // On Linux a scheduling policy and a nice value belong to a thread: 0 is the calling
                // thread only. Lowering one's own priority needs no privilege; where a sandbox refuses
                // SCHED_IDLE anyway, nice 10 is the next best thing.
                var parameters = sched_param(sched_priority: 0)
                if !idle || sched_setscheduler(0, Self.idlePolicy, &parameters) != 0 {
                    _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
                }
                while true {
                    ready.wait()
                    if let job = next() { job.runSynchronously(on: asUnownedTaskExecutor()) }
                }
            }
            thread.name = "postern.delivery.\(idle ? "quiet" : "busy").\(number)"
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
