import Dispatch
import Foundation
import Synchronization

/// A serial executor backed by one thread of its own.
///
/// Each `MariaDBConnection` actor runs on one of these, so the blocking calls of Connector/C
/// (connect, execute, fetch) stall only that connection's thread, never the cooperative pool
/// or a NIO event loop.
final class DedicatedThreadExecutor: SerialExecutor, Sendable {
    private struct State {
        var jobs: [UnownedJob] = []
        var stopping = false
    }

    private let state = Mutex(State())
    /// Signalled once for every job and for the shutdown; the thread takes whatever is queued.
    private let wake = DispatchSemaphore(value: 0)

    init(name: String) {
        let thread = Thread { [self] in runLoop() }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        state.withLock { $0.jobs.append(job) }
        wake.signal()
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Lets the thread end once every job enqueued so far has run.
    func shutdown() {
        state.withLock { $0.stopping = true }
        wake.signal()
    }

    private func runLoop() {
        while true {
            wake.wait()
            let (batch, stopping) = state.withLock { state in
                defer { state.jobs.removeAll(keepingCapacity: true) }
                return (state.jobs, state.stopping)
            }
            for job in batch { job.runSynchronously(on: asUnownedSerialExecutor()) }
            if stopping && batch.isEmpty && state.withLock({ $0.jobs.isEmpty }) { return }
        }
    }
}
