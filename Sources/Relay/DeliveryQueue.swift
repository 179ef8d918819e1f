import Directory
import Cluster
import Foundation
import Logging
import MailCore
import NIOSSL
import OpenPGP
import SMTPClient
import SMTPCore
import ServiceLifecycle
import Spool

/// The delivery side of a node: takes spooled messages to their next hops, with the envelope sender
/// rewritten by SRS, retries what failed temporarily with backoff, and records what failed for good as
/// a failed delivery for the alias owner (never a bounce to the original sender, which would reveal
/// the real mailbox).
public actor DeliveryQueue: Service {
    public struct Settings: Sendable {
        public var heloName: String
        public var schedule: RetrySchedule
        /// Messages being delivered at once.
        public var concurrency: Int
        public var timeout: Duration
        /// The longest a session is held back before its 250 while new mail waits for a place
        /// (`InflowDelay`); zero: never.
        public var inflowDelay: Duration
        /// Offered to next hops that announce STARTTLS.
        public var tls: NIOSSLContext?
        /// Signing keys per alias domain; nil: nothing is signed.
        public var dkim: DKIMKeyring?
        /// `domains.root`: aliases on `USERNAME.ROOT` are signed for the root domain.
        public var rootDomain: String
        /// Banner links: the node's public base URL and the secret that signs them; nil: no link.
        public var deactivation: (base: String, secret: String)?
        /// The sender of notices to users (`notifications.from`); nil: no notices.
        public var noticeSender: EmailAddress?

        public init(heloName: String, schedule: RetrySchedule, concurrency: Int = 64, timeout: Duration = .seconds(120),
                    tls: NIOSSLContext?, dkim: DKIMKeyring? = nil, rootDomain: String = "",
                    deactivation: (base: String, secret: String)? = nil, noticeSender: EmailAddress? = nil,
                    inflowDelay: Duration = .seconds(1)) {
            self.inflowDelay = inflowDelay
            self.deactivation = deactivation
            self.noticeSender = noticeSender
            self.dkim = dkim
            self.rootDomain = rootDomain.lowercased()
            self.heloName = heloName
            self.schedule = schedule
            self.concurrency = concurrency
            self.timeout = timeout
            self.tls = tls
        }
    }

    struct Entry {
        var message: SpooledMessage
        /// Kept in memory between acceptance and the first attempt; read from the spool after that.
        var body: [UInt8]?
        var progress: DeliveryProgress
        var inFlight = false
        /// In `due`, waiting for a free place.
        var isDue = false
    }

    let settings: Settings
    let spool: Spool
    let srs: SRSRewriter
    let resolver: any NextHopResolver
    let failures: FailedDeliveries
    let routing: MailRouting
    let metrics: NodeMetrics
    let logger: Logger
    /// Recipients' OpenPGP keys; nil: copies meant to be encrypted wait (4.7.0) for a node that has one.
    let keyring: Keyring?
    /// The database's deferred queue, when nodes share one; nil: deferred mail is retried here.
    let shared: SharedDeferredQueue?
    /// This node holds the active role with this epoch: it retries the shared queue.
    var activeEpoch: UInt64?
    /// Draining: deferred and waiting messages go to the shared queue, nothing is taken from it.
    var draining = false
    let connections = SMTPConnectionPool()
    var entries: [QueueID: Entry] = [:]
    /// Entries whose time has come, in the order they came due; each at most once. New mail goes
    /// straight here; waiting mail is added by `startDue(looking:)` in the rounds.
    private var due: [QueueID] = []
    private var dueHead = 0
    /// Queued files that could not be read (an I/O error, not damage): tried again every second.
    private var unreadable: Set<QueueID> = []
    /// Forwards counted but not yet written: alias id → (owner, messages, bytes, last time). Written
    /// about once a second in one transaction, not with every message.
    private var unsavedForwards: [String: (userID: String, messages: Int, bytes: Int, last: Date)] = [:]
    /// Messages accepted per owner and hour, not yet written (the hourly limit reads them).
    private var unsavedAccepts: [AcceptKey: Int] = [:]
    private struct AcceptKey: Hashable { var userID: String; var hour: Date }
    var running = 0
    private var stopping = false
    private var inflow = InflowDelay()
    /// When each user was last sent each kind of notice (`DeliveryQueue+Notices`).
    var lastNotice: [String: Date] = [:]

    public init(settings: Settings, spool: Spool, srs: SRSRewriter, resolver: any NextHopResolver,
                failures: FailedDeliveries, routing: MailRouting, metrics: NodeMetrics, logger: Logger, keyring: Keyring? = nil,
                shared: SharedDeferredQueue? = nil) {
        self.keyring = keyring
        self.shared = shared
        self.settings = settings
        self.spool = spool
        self.srs = srs
        self.resolver = resolver
        self.failures = failures
        self.routing = routing
        self.metrics = metrics
        self.logger = logger
    }

    /// Loads what the spool holds (after a restart, a crash, or a kill -9). Called before the SMTP
    /// listener starts, so recovery never sees a message being written.
    public func recoverSpool() throws {
        let recovered = try spool.recover()
        for id in recovered { load(id) }
        if !recovered.isEmpty { logger.info("queue recovered", metadata: ["messages": "\(recovered.count)"]) }
        metrics.setQueueDepth(entries.count)
    }

    /// Takes a queued message in; one that cannot be read now is tried again with the next rounds.
    private func load(_ id: QueueID) {
        guard entries[id] == nil else { return }
        do {
            let (message, _) = try spool.load(id)
            let progress = spool.progress(of: id) ?? DeliveryProgress(nextAttemptAt: Date())
            entries[id] = Entry(message: message, body: nil, progress: progress)
            unreadable.remove(id)
        } catch SpoolError.corrupt {
            logger.error("queued message damaged; set aside", metadata: ["queue_id": "\(id)"])
            spool.setAside(id)
            unreadable.remove(id)
        } catch {
            if unreadable.insert(id).inserted {
                logger.error("queued message unreadable; will try again", metadata: ["queue_id": "\(id)", "error": "\(error)"])
            }
        }
    }

    /// Delivers until shutdown.
    public func run() async throws {
        var round = 0
        while !Task.isShuttingDownGracefully {
            round += 1
            // With a shared database this is singleton work, run by the active node.
            if round % 14_400 == 0, shared == nil { try? await failures.purgeKeptMessages() }  // about hourly
            if round % 4 == 0 {
                for id in unreadable { load(id) }
                followAdministration()
                await saveForwardCounts()
                await claimShared()
            }
            startDue(looking: true)
            await connections.sweep()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(250)) }
        }
        stopping = true
        for session in inflow.releaseAll() { session.resume() }
        // Attempts in progress finish (their outcome is recorded); nothing new starts.
        for _ in 0..<600 where running > 0 {
            try? await Task.sleep(for: .milliseconds(100))
        }
        await connections.closeAll()
        await saveForwardCounts()
    }

    private func saveForwardCounts() async {
        guard !unsavedForwards.isEmpty || !unsavedAccepts.isEmpty else { return }
        let batch = unsavedForwards
        let accepts = unsavedAccepts
        unsavedForwards = [:]
        unsavedAccepts = [:]
        do {
            try await routing.countForwarded(
                batch.map { (aliasID: $0.key, userID: $0.value.userID, messages: $0.value.messages, bytes: $0.value.bytes,
                             at: $0.value.last) },
                accepted: accepts.map { (userID: $0.key.userID, messages: $0.value, hour: $0.key.hour) })
        } catch {
            logger.warning("could not save forward counts; they are kept for the next try", metadata: ["error": "\(error)"])
            unsavedAccepts.merge(accepts, uniquingKeysWith: +)
            for (aliasID, counts) in batch {
                let kept = unsavedForwards[aliasID]
                unsavedForwards[aliasID] = (counts.userID, counts.messages + (kept?.messages ?? 0),
                                            counts.bytes + (kept?.bytes ?? 0), max(counts.last, kept?.last ?? counts.last))
            }
        }
    }

    /// A message just stored: deliver it now if there is room, else with the next round.
    public func enqueue(_ message: SpooledMessage, body: [UInt8]) async {
        guard admit(message, body: body) else { return }
        await holdBackWhileBehind()
    }

    /// Takes a stored message in and starts it if there is a place; false if it was already here.
    func admit(_ message: SpooledMessage, body: [UInt8]) -> Bool {
        guard entries[message.id] == nil else { return false }
        let hour = MailRouting.hour(of: message.receivedAt)
        for userID in Set(message.deliveries.compactMap(\.userID)) { unsavedAccepts[AcceptKey(userID: userID, hour: hour), default: 0] += 1 }
        entries[message.id] = Entry(message: message, body: body, progress: DeliveryProgress(nextAttemptAt: Date()))
        markDue(message.id)
        inflow.arrived(message.id)
        metrics.setQueueDepth(entries.count)
        startDue()
        return true
    }

    /// Holds the session back before its 250 while new mail piles up (`InflowDelay`).
    private func holdBackWhileBehind() async {
        guard inflow.isBehind(places: settings.concurrency), settings.inflowDelay > .zero, !stopping else { return }
        metrics.heldBack()
        let delay = settings.inflowDelay
        await withCheckedContinuation { session in
            let number = inflow.hold(session)
            Task {
                try? await Task.sleep(for: delay)
                self.inflow.release(number)?.resume()
            }
        }
    }

    // MARK: - Attempts

    /// Starts due attempts while there is room. `looking`: first look through every entry for one
    /// whose retry time has come (the rounds do, four times a second); new mail needs no search.
    func startDue(looking: Bool = false) {
        guard !stopping else { return }
        if looking {
            let now = Date()
            let ready = entries.compactMap { id, entry in
                !entry.inFlight && !entry.isDue && entry.progress.nextAttemptAt <= now ? (id, entry.progress.nextAttemptAt) : nil
            }
            for (id, _) in ready.sorted(by: { $0.1 < $1.1 }) { markDue(id) }
        }
        while running < settings.concurrency, dueHead < due.count {
            let id = due[dueHead]
            dueHead += 1
            inflow.leftTheLine(id)
            guard let entry = entries[id], entry.isDue else { continue }
            entries[id]?.isDue = false
            guard !entry.inFlight else { continue }
            entries[id]?.inFlight = true
            running += 1
            Task(executorPreference: DeliveryThreads.busy) { await self.attempt(id) }
        }
        if dueHead == due.count {
            due.removeAll(keepingCapacity: true)
            dueHead = 0
        } else if dueHead > 4096 {
            due.removeFirst(dueHead)
            dueHead = 0
        }
        for session in inflow.releaseAll(places: settings.concurrency) { session.resume() }
    }

    /// Puts an entry in line to start (once).
    func markDue(_ id: QueueID) {
        guard entries[id]?.isDue == false else { return }
        entries[id]?.isDue = true
        due.append(id)
    }

    private func attempt(_ id: QueueID) async {
        defer {
            running -= 1
            entries[id]?.inFlight = false
            startDue()
        }
        guard var entry = entries[id] else { return }
        let body: [UInt8]
        if let kept = entry.body {
            body = kept
        } else {
            do {
                body = try spool.load(id).1
            } catch SpoolError.corrupt {
                logger.error("queued message damaged; set aside", metadata: ["queue_id": "\(id)"])
                spool.setAside(id)
                entries[id] = nil
                return
            } catch {
                logger.error("queued message unreadable; will try again", metadata: ["queue_id": "\(id)", "error": "\(error)"])
                entries[id]?.progress.nextAttemptAt = Date().addingTimeInterval(60)
                return
            }
        }
        entry.body = nil
        let message = entry.message
        let pending = message.deliveries.indices.filter { !entry.progress.finished.contains($0) }
        let sender = envelopeSender(of: message)
        let needsUTF8 = message.smtpUTF8 && Self.needsSMTPUTF8(message, body: body)

        // One transaction per recipient domain (the next hop is the same for all its recipients) and
        // alias (the rewritten header and the signing domain follow from it).
        struct Group: Hashable {
            var recipientDomain: String
            var alias: String
            var style: ForwardingStyle
            var asWritten: Bool
            /// Each mailbox's key: an encrypted copy is one mailbox's only.
            var encryption: RecipientEncryption?
            var recipientID: String?
        }
        var groups: [Group: [Int]] = [:]
        for index in pending {
            let delivery = message.deliveries[index]
            let asWritten = delivery.notice == true || delivery.reply == true
            // Replies go to third parties as written; a passed-on auto-reply may be for an encrypted mailbox.
            let encryption = delivery.reply == true ? nil : delivery.encryption
            let key = Group(recipientDomain: Self.domain(of: delivery.recipient), alias: delivery.alias,
                            style: delivery.style ?? ForwardingStyle(), asWritten: asWritten, encryption: encryption,
                            recipientID: encryption == nil ? nil : delivery.recipientID)
            groups[key, default: []].append(index)
        }
        let originalSender = message.sender.flatMap { try? EmailAddress(parsing: $0) }
        let isRetry = entry.progress.attempts > 0
        // Judged once, on the message as received (before a banner is added to any copy).
        let senderEncrypted = groups.keys.contains { $0.encryption != nil } && EncryptedMessage.isEncrypted(body)
        let now = Date()
        let threads = DeliveryThreads.forLoad(running: running - 1)
        let results = await withTaskGroup(of: [(Int, SMTPClientTransaction.Outcome, String)].self) { group in
            for (key, indexes) in groups {
                let signer = settings.dkim?.signer(for: signingDomain(for: key.alias))
                let link = settings.deactivation.flatMap { base, secret in
                    message.deliveries[indexes[0]].aliasID.map { DeactivationLink.make(base: base, aliasID: $0, secret: secret) }
                }
                let reference = settings.deactivation.map {
                    NodeSignature.bounceReference(alias: key.alias, bounceAddress: sender, secret: $0.secret)
                }
                group.addTask {
                    // Rewriting, encrypting and signing, the CPU work, on `threads` (the idle-class
                    // pool under a light load, `DeliveryThreads`); the SMTP exchange where the attempt
                    // runs, at nice 10.
                    let copy = await withTaskExecutorPreference(threads) { () async -> PreparedCopy in
                        var forwarded = body
                        if !key.asWritten, let alias = try? EmailAddress(parsing: key.alias) {
                            forwarded = ForwardedMessage.rewrite(body, alias: alias, envelopeSender: originalSender, style: key.style,
                                                                 deactivateLink: link, reference: reference)
                        }
                        if let encryption = key.encryption {
                            let encrypted = await self.encryptedCopy(forwarded, senderEncrypted: senderEncrypted,
                                                                     delivery: message.deliveries[indexes[0]], encryption: encryption,
                                                                     isRetry: isRetry, queueID: id)
                            guard case .send(let copy) = encrypted else { return encrypted }
                            forwarded = copy
                        }
                        guard let signer else { return .send(forwarded) }
                        do {
                            return .send(try signer.signatureField(for: forwarded, at: now) + forwarded)
                        } catch {
                            self.logger.error("DKIM signing failed", metadata: ["queue_id": "\(id)", "error": "\(error)"])
                            return .send(forwarded)
                        }
                    }
                    let signed: [UInt8]
                    switch copy {
                    case .send(let ready): signed = ready
                    case .stop(let outcome, let hop): return indexes.map { ($0, outcome, hop) }
                    }
                    return await self.deliver(indexes.map { message.deliveries[$0].recipient }, domain: key.recipientDomain,
                                              sender: sender, body: signed, needsUTF8: needsUTF8)
                        .enumerated().map { (indexes[$0.offset], $0.element.0, $0.element.1) }
                }
            }
            var all: [(Int, SMTPClientTransaction.Outcome, String)] = []
            for await part in group { all += part }
            return all
        }

        entry.progress.attempts += 1
        entry.progress.firstAttemptAt = entry.progress.firstAttemptAt ?? now
        let expired = settings.schedule.expired(age: .seconds(now.timeIntervalSince(message.receivedAt)))
        var deferredProblem: String?
        var forwardedAliases: Set<String> = []
        for (index, outcome, hop) in results {
            let delivery = message.deliveries[index]
            let fields: Logger.Metadata = ["queue_id": "\(id)", "to": "\(delivery.recipient)", "relay": "\(hop)"]
            switch outcome {
            case .delivered(let reply):
                entry.progress.finished.insert(index)
                metrics.delivered()
                logger.info("delivered", metadata: fields.merging(["reply": "\(Self.text(reply))"]) { $1 })
                if let aliasID = delivery.aliasID, delivery.reply != true { forwardedAliases.insert(aliasID) }
            case .failed(let reply):
                entry.progress.finished.insert(index)
                await recordFailure(delivery, message: message, body: body, reply: reply, hop: hop, at: now)
                logger.info("failed", metadata: fields.merging(["reply": "\(Self.text(reply))"]) { $1 })
            case .deferred(let reply):
                if expired {
                    entry.progress.finished.insert(index)
                    let giveUp = SMTPReply(code: 554, enhanced: "5.4.7",
                                           lines: ["Delivery time expired; last problem: \(Self.text(reply))"])
                    await recordFailure(delivery, message: message, body: body, reply: giveUp, hop: hop, at: now)
                    logger.info("failed", metadata: fields.merging(["reply": "\(Self.text(giveUp))"]) { $1 })
                } else {
                    metrics.deferred()
                    deferredProblem = Self.text(reply)
                    logger.info("deferred", metadata: fields.merging(["reply": "\(Self.text(reply))"]) { $1 })
                }
            }
        }
        for aliasID in forwardedAliases {
            if let userID = message.deliveries.first(where: { $0.aliasID == aliasID })?.userID {
                let kept = unsavedForwards[aliasID]
                unsavedForwards[aliasID] = (userID, (kept?.messages ?? 0) + 1, (kept?.bytes ?? 0) + body.count, now)
            }
        }
        if entry.progress.finished.count == message.deliveries.count {
            spool.remove(id)
            entries[id] = nil
            logger.info("removed", metadata: ["queue_id": "\(id)"])
        } else {
            entry.progress.lastProblem = deferredProblem
            let wait = settings.schedule.delay(afterAttempt: entry.progress.attempts)
            entry.progress.nextAttemptAt = now.addingTimeInterval(wait.timeInterval)
            try? await spool.saveProgress(entry.progress, of: id)
            entry.inFlight = true  // cleared by the defer above
            entries[id] = entry
            // Deferred mail waits in the shared queue, for whichever node is active.
            if shared != nil {
                _ = await moveToShared(id, message: message, progress: entry.progress, body: body)
            }
        }
        metrics.setQueueDepth(entries.count)
    }

    /// How long the message of a failed delivery is kept for re-sending.
    static let keepFailedMessages: TimeInterval = 7 * 86_400

    private func recordFailure(_ delivery: SpooledMessage.Delivery, message: SpooledMessage, body: [UInt8], reply: SMTPReply,
                               hop: String, at now: Date) async {
        metrics.failed()
        guard let userID = delivery.userID else { return }
        let record = FailedDelivery(
            id: UUID().uuidString.lowercased(), userID: userID, recipientID: delivery.recipientID, recipientEmail: delivery.recipient,
            aliasID: delivery.aliasID, aliasEmail: delivery.alias, bounceType: reply.isPermanentFailure ? "hard" : "soft",
            remoteMTA: hop, sender: message.sender, emailType: delivery.reply == true ? "R" : "F", status: reply.enhanced,
            code: Self.text(reply), attemptedAt: now, createdAt: now, updatedAt: now)
        do {
            try await failures.record(record)
            // A reply is not kept for re-sending: the resend path forwards to the owner's mailboxes.
            if delivery.reply != true {
                try await failures.keepMessage(of: record.id, sender: message.sender, message: body,
                                               until: now.addingTimeInterval(Self.keepFailedMessages))
            }
        } catch {
            logger.error("could not record a failed delivery", metadata: ["queue_id": "\(message.id)", "error": "\(error)"])
        }
        await tellOwner(of: record)
    }

    static func domain(of address: String) -> String {
        address.split(separator: "@").last.map { $0.lowercased() } ?? ""
    }

    /// The d= of a copy forwarded for `alias`: its domain, or the root domain for `USERNAME.ROOT`.
    private func signingDomain(for alias: String) -> String {
        let domain = Self.domain(of: alias)
        if !settings.rootDomain.isEmpty, domain.hasSuffix("." + settings.rootDomain) { return settings.rootDomain }
        return domain
    }

    /// SRS0 (or SRS1) of the original sender in `srs.domain`; the null sender stays null. Postern's own
    /// notices go out from the null sender (RFC 3834): a bounce of one, or an auto-reply to one, must
    /// not come back to an address someone might own. Replies go out from their alias, so a bounce
    /// of one reaches its owner like any mail to the alias.
    private func envelopeSender(of message: SpooledMessage) -> String {
        if message.deliveries.allSatisfy({ $0.notice == true }) { return "" }
        if message.deliveries.allSatisfy({ $0.reply == true }) { return message.sender ?? "" }
        guard let text = message.sender, let address = try? EmailAddress(parsing: text) else { return "" }
        return srs.forward(address, now: message.receivedAt).description
    }

    /// RFC 6531: the next hop must support SMTPUTF8 only when an address or the header holds non-ASCII.
    static func needsSMTPUTF8(_ message: SpooledMessage, body: [UInt8]) -> Bool {
        if let sender = message.sender, !sender.allSatisfy(\.isASCII) { return true }
        if message.deliveries.contains(where: { !$0.recipient.allSatisfy(\.isASCII) }) { return true }
        var index = 0
        while index + 3 < body.count, !(body[index] == 13 && body[index + 1] == 10 && body[index + 2] == 13 && body[index + 3] == 10) {
            if body[index] > 127 { return true }
            index += 1
        }
        return false
    }

    static func text(_ reply: SMTPReply) -> String {
        "\(reply.code)\(reply.enhanced.map { " " + $0 } ?? "") \(reply.lines.joined(separator: " "))"
    }

}
