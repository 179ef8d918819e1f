import Foundation

/// Runs blocking work (waiting for a process, reading a pipe to its end) on a Dispatch thread, so it
/// never holds one of the test process's cooperative threads. There are two of them on this machine,
/// and the in-process API servers of other suites need them to answer.
public func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}
