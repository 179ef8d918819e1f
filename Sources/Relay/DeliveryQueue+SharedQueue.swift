import Cluster
import Foundation
import Spool

/// The shared deferred queue (SPEC §7). A message whose attempt was deferred moves from this node's
/// spool into the database; the active node takes due messages back into its own spool (fsync'd)
/// and tries them like any other. A draining node pushes everything it holds.
extension DeliveryQueue {
    /// How long a claim keeps other nodes off a message being taken into a spool (a node that dies
    /// between claiming and storing leaves it claimed this long).
    static let claimDuration: Duration = .seconds(300)

    /// Moves a deferred message into the shared queue; true when it left this node. When the database
    /// cannot take it, it stays here and is retried here.
    func moveToShared(_ id: QueueID, message: SpooledMessage, progress: DeliveryProgress, body: [UInt8]) async -> Bool {
        guard let shared else { return false }
        do {
            try await shared.put(message, progress: progress, body: body)
        } catch {
            logger.warning("could not move a deferred message to the shared queue; keeping it here",
                           metadata: ["queue_id": "\(id)", "error": "\(error)"])
            return false
        }
        spool.remove(id)
        entries[id] = nil
        metrics.setQueueDepth(entries.count)
        metrics.movedToShared()
        logger.info("moved to the shared queue", metadata: ["queue_id": "\(id)", "next_attempt": "\(progress.nextAttemptAt)"])
        return true
    }

    /// Singleton work may run (this node holds the active role with `epoch`), or not (nil).
    public func setActive(epoch: UInt64?) {
        activeEpoch = epoch
        metrics.setActive(epoch != nil)
    }

    /// On the active node: takes due messages from the shared queue into the spool, as many as there
    /// is room to deliver at once.
    func claimShared() async {
        guard let shared, activeEpoch != nil, !draining else { return }
        let room = settings.concurrency - running
        guard room > 0 else { return }
        let items: [SharedDeferredQueue.Item]
        do {
            items = try await shared.claimDue(limit: room, claimFor: Self.claimDuration)
        } catch {
            logger.warning("could not read the shared queue", metadata: ["error": "\(error)"])
            return
        }
        for item in items {
            let id = item.message.id
            do {
                guard entries[id] == nil, !spool.contains(id) else {
                    // Here already (being moved out, or a copy from before a crash): the row stays.
                    try await shared.unclaim(id, claim: item.claim)
                    continue
                }
                try await spool.store(item.message, body: item.body)
                var progress = item.progress
                progress.nextAttemptAt = Date()
                try await spool.saveProgress(progress, of: id)
                entries[id] = Entry(message: item.message, body: item.body, progress: progress)
                try await shared.remove(id, claim: item.claim)
                metrics.takenFromShared()
                logger.info("taken from the shared queue", metadata: ["queue_id": "\(id)"])
            } catch {
                logger.warning("could not take a message from the shared queue", metadata: ["queue_id": "\(id)", "error": "\(error)"])
            }
        }
        metrics.setQueueDepth(entries.count)
        if !items.isEmpty { startDue(looking: true) }
    }

    /// Draining: nothing more is taken from the shared queue, and what waits here moves there.
    /// Returns how many messages are still here (in flight, or not movable now).
    public func drain() async -> Int {
        draining = true
        guard shared != nil else { return entries.count }
        for id in Array(entries.keys) {
            // Read again at every turn: attempts start and end while a move waits on the database.
            guard let entry = entries[id], !entry.inFlight else { continue }
            let body: [UInt8]
            do {
                body = try entry.body ?? spool.load(id).1
            } catch {
                continue
            }
            // Not in flight while moving: no attempt starts meanwhile.
            entries[id]?.inFlight = true
            if !(await moveToShared(id, message: entry.message, progress: entry.progress, body: body)) {
                entries[id]?.inFlight = false
            }
        }
        return entries.count
    }

    public func undrain() {
        draining = false
    }
}
