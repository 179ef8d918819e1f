import Foundation
import Spool

/// `postern queue`: what is queued, flushing, and deletions made on the spool directly.
extension DeliveryQueue {
    public struct Summary: Sendable {
        public var id: QueueID
        public var sender: String?
        public var recipients: [String]
        public var attempts: Int
        public var nextAttemptAt: Date
        public var lastProblem: String?
    }

    public func summaries() -> [Summary] {
        entries.values.sorted { $0.message.id < $1.message.id }.map { entry in
            Summary(id: entry.message.id, sender: entry.message.sender,
                    recipients: entry.message.deliveries.indices.filter { !entry.progress.finished.contains($0) }
                        .map { entry.message.deliveries[$0].recipient },
                    attempts: entry.progress.attempts, nextAttemptAt: entry.progress.nextAttemptAt,
                    lastProblem: entry.progress.lastProblem)
        }
    }

    /// Makes every deferred message due now.
    public func flush() {
        for id in entries.keys { entries[id]?.progress.nextAttemptAt = Date() }
        startDue(looking: true)
    }

    public var depth: Int { entries.count }

    /// `postern queue` works on the spool directly: it asks for a flush with a request file, and
    /// deletes a message by removing its file. The node notices both here.
    func followAdministration() {
        if spool.takeFlushRequest() {
            logger.info("queue flush requested")
            flush()
        }
        let deleted = entries.compactMap { id, entry in !entry.inFlight && !spool.contains(id) ? id : nil }
        for id in deleted {
            entries[id] = nil
            logger.info("deleted by the administrator", metadata: ["queue_id": "\(id)"])
        }
        metrics.setQueueDepth(entries.count)
    }
}
