import Dispatch
import Foundation
import Synchronization

/// Group commit for a directory: `sync()` returns once an fsync of the directory that began after the
/// call has finished. Calls that arrive while one fsync runs share the next one, so many sessions
/// storing messages at once pay for few directory syncs.
final class DirectorySync: Sendable {
    private struct State {
        var waiting: [CheckedContinuation<Void, any Error>] = []
        var closed = false
    }

    private let descriptor: Int32
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)

    init(path: String) throws(SpoolError) {
        descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .io("open \(path)", errno) }
        let thread = Thread { [self] in self.run() }
        thread.name = "postern.spool.dirsync"
        thread.start()
    }

    func sync() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let closed = state.withLock { state in
                if state.closed { return true }
                state.waiting.append(continuation)
                return false
            }
            if closed { continuation.resume(throwing: SpoolError.closed) } else { wake.signal() }
        }
    }

    /// Syncs once more for anyone waiting, then stops the thread.
    func close() {
        state.withLock { $0.closed = true }
        wake.signal()
    }

    private func run() {
        while true {
            wake.wait()
            let (batch, closed) = state.withLock { state in
                defer { state.waiting = [] }
                return (state.waiting, state.closed)
            }
            if !batch.isEmpty {
                let failure = fsync(descriptor) == 0 ? nil : SpoolError.io("fsync of the spool directory", errno)
                for waiter in batch {
                    if let failure { waiter.resume(throwing: failure) } else { waiter.resume() }
                }
            }
            if closed {
                Foundation.close(descriptor)
                return
            }
        }
    }
}

public enum SpoolError: Error, CustomStringConvertible, Equatable {
    case io(String, Int32)
    case corrupt(String)
    case closed

    public var description: String {
        switch self {
        case .io(let what, let code): "\(what) failed: \(String(cString: strerror(code)))"
        case .corrupt(let what): "spool file \(what) is damaged"
        case .closed: "the spool is closed"
        }
    }
}
