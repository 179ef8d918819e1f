import Foundation
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where delivery attempts run: threads of their own at a lower scheduling priority (nice 10) than
/// the rest of the node. Rewriting and DKIM signing are the node's longest stretches of CPU work; on the
/// task pool, a new attempt woke a thread that could take the CPU from a session about to answer 250
/// for as long as a signature takes. At nice 10 the kernel runs the sessions, the journal and the event
/// loops first, and deliveries get the rest, which is all they need under a load the machine can carry
/// (the total work is the same; only its order changes).
final class DeliveryThreads: TaskExecutor {
    /// One pool for the process, a thread per core.
    static let shared = DeliveryThreads(threads: max(2, ProcessInfo.processInfo.activeProcessorCount), nice: 10)

    private let line = Mutex(CircularBuffer<UnownedJob>())
    private let ready = DispatchSemaphore(value: 0)

    private init(threads: Int, nice: Int32) {
        for number in 0..<threads {
            let thread = Thread { [self] in
                // On Linux the nice value belongs to a thread: `who` 0 is the calling thread only.
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice)
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
