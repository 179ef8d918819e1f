import Foundation
import Logging
import ServiceLifecycle

/// What the cluster asks of the node it runs in.
public protocol ClusterMember: Sendable {
    /// Singleton work may run from now on, fenced by `epoch`; nil: stop it, and return only when it
    /// has stopped.
    func setActive(epoch: UInt64?) async
    /// Refuse new SMTP sessions (421), and move what is queued locally to the shared queue; returns
    /// how many messages are still queued here (in flight, or not moved yet).
    func drain() async -> Int
    /// Take mail again.
    func undrain() async
    var queueDepth: Int { get async }
}

/// One node's part in the cluster (SPEC §7): a heartbeat into `nodes` every `heartbeatInterval`, and
/// at each one a decision about the active role (`LeaseDecision`) carried out against the lease row.
/// The role fences singleton work twice over: by epoch (every run is recorded only while the epoch
/// holds) and by time (a holder that could not renew within `leaseTimeout - heartbeatInterval`
/// stops its work before the lease can expire for anyone else).
public actor ClusterCoordinator: Service {
    public struct Settings: Sendable {
        public var name: String
        public var hostname: String
        public var smtpAddress: String
        public var version: String
        public var heartbeatInterval: Duration
        public var leaseTimeout: Duration
        public var autoFailover: Bool

        public init(name: String, hostname: String, smtpAddress: String, version: String, heartbeatInterval: Duration,
                    leaseTimeout: Duration, autoFailover: Bool) {
            self.name = name
            self.hostname = hostname
            self.smtpAddress = smtpAddress
            self.version = version
            self.heartbeatInterval = heartbeatInterval
            self.leaseTimeout = leaseTimeout
            self.autoFailover = autoFailover
        }
    }

    let settings: Settings
    let registry: NodeRegistry
    let lease: ActiveLease
    let member: any ClusterMember
    let logger: Logger
    private(set) var epoch: UInt64?
    private var lastRenewal = ContinuousClock.now
    private var draining = false
    private var state = "running"

    public init(settings: Settings, registry: NodeRegistry, lease: ActiveLease, member: any ClusterMember, logger: Logger) {
        self.settings = settings
        self.registry = registry
        self.lease = lease
        self.member = member
        self.logger = logger
    }

    public var isActive: Bool { epoch != nil }

    public func run() async throws {
        // The time fence is watched apart from the beats: a beat can hang on the database for longer
        // than the lease lasts.
        let watchdog = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: self.settings.heartbeatInterval / 4)
                await self.checkFence()
            }
        }
        while !Task.isShuttingDownGracefully {
            await beat()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.settings.heartbeatInterval) }
        }
        watchdog.cancel()
        await stop()
    }

    /// Fencing by time: a holder that could not renew stops before its lease could expire for others.
    func checkFence() async {
        if epoch != nil, ContinuousClock.now - lastRenewal > settings.leaseTimeout - settings.heartbeatInterval {
            await lose("could not renew the lease in time")
        }
    }

    /// One heartbeat: write the node's row, follow a drain request, decide about the role.
    func beat() async {
        let name = settings.name
        do {
            let depth = await member.queueDepth
            let drainRequested = try await registry.heartbeat(
                name: name, hostname: settings.hostname, smtpAddress: settings.smtpAddress, version: settings.version,
                state: state, queueDepth: depth)
            if drainRequested != draining {
                draining = drainRequested
                logger.info(draining ? "draining" : "taking mail again", metadata: ["node": "\(name)"])
                if !draining {
                    await member.undrain()
                    state = "running"
                }
            }
            let (row, _) = try await lease.read()
            switch LeaseDecision.decide(row, me: name, draining: draining, autoFailover: settings.autoFailover) {
            case .renew:
                guard let held = epoch else {
                    // The row names this node with an epoch from before a restart (or from another
                    // process under the same name): give it up; a new holder gets a new epoch.
                    try await lease.release(node: name, epoch: row.epoch)
                    logger.info("released a lease held before this process started", metadata: ["node": "\(name)", "epoch": "\(row.epoch)"])
                    break
                }
                if try await lease.renew(node: name, epoch: held, for: settings.leaseTimeout) {
                    lastRenewal = .now
                } else {
                    await lose("the lease was taken over")
                }
            case .release:
                let held = epoch ?? row.epoch
                await lose(draining ? "draining" : "handing over to \(row.handoffTo ?? "another node")")
                try await lease.release(node: name, epoch: held)
            case .acquire:
                if let new = try await lease.acquire(node: name, for: settings.leaseTimeout, autoFailover: settings.autoFailover) {
                    lastRenewal = .now
                    await become(new)
                }
            case .standBy:
                if epoch != nil { await lose("another node holds the lease") }
            }
            if draining {
                let left = await member.drain()
                state = left == 0 && epoch == nil ? "drained" : "draining"
            }
        } catch {
            logger.warning("heartbeat failed", metadata: ["node": "\(name)", "error": "\(error)"])
        }
        await checkFence()
    }

    private func become(_ new: UInt64) async {
        epoch = new
        logger.info("active", metadata: ["node": "\(settings.name)", "epoch": "\(new)"])
        await member.setActive(epoch: new)
    }

    private func lose(_ why: String) async {
        guard let held = epoch else { return }
        epoch = nil
        await member.setActive(epoch: nil)
        logger.info("standby", metadata: ["node": "\(settings.name)", "epoch": "\(held)", "why": "\(why)"])
    }

    /// At shutdown: singleton work stops, the role is released for a standby to take at once, and
    /// the row says the node stopped.
    private func stop() async {
        if let held = epoch {
            await lose("shutting down")
            try? await lease.release(node: settings.name, epoch: held)
        }
        _ = try? await registry.heartbeat(
            name: settings.name, hostname: settings.hostname, smtpAddress: settings.smtpAddress, version: settings.version,
            state: "stopped", queueDepth: await member.queueDepth)
    }
}

/// Work that runs on the active node only: each job once when the node becomes active and then every
/// `interval`, each run recorded in `singleton_runs` only while the lease's epoch holds.
public actor SingletonWork {
    public struct Job: Sendable {
        public var name: String
        public var interval: Duration
        public var work: @Sendable () async throws -> Void

        public init(name: String, interval: Duration, work: @escaping @Sendable () async throws -> Void) {
            self.name = name
            self.interval = interval
            self.work = work
        }
    }

    let jobs: [Job]
    let lease: ActiveLease
    let node: String
    let logger: Logger
    private var runner: Task<Void, Never>?

    public init(jobs: [Job], lease: ActiveLease, node: String, logger: Logger) {
        self.jobs = jobs
        self.lease = lease
        self.node = node
        self.logger = logger
    }

    /// Starts the jobs under `epoch`, or (nil) stops them and waits until the one running has ended.
    public func setEpoch(_ epoch: UInt64?) async {
        if let runner {
            runner.cancel()
            await runner.value
            self.runner = nil
        }
        guard let epoch else { return }
        let (jobs, lease, node, logger) = (jobs, lease, node, logger)
        runner = Task {
            var due = Array(repeating: ContinuousClock.now, count: jobs.count)
            while !Task.isCancelled {
                for (index, job) in jobs.enumerated() where due[index] <= .now && !Task.isCancelled {
                    due[index] = .now + job.interval
                    do {
                        guard let run = try await lease.startRun(job.name, node: node, epoch: epoch) else {
                            logger.info("singleton work fenced off: the lease moved on", metadata: ["job": "\(job.name)"])
                            return
                        }
                        try await job.work()
                        try await lease.finishRun(run)
                    } catch {
                        logger.warning("singleton job failed", metadata: ["job": "\(job.name)", "error": "\(error)"])
                    }
                }
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }
}
