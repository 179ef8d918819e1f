import Foundation
import Storage
import TestSupport
import Testing

/// Two nodes (two `postern serve` processes with their own spools) on one MariaDB, and a sending MTA
/// that tries MX 10, then MX 20 (`mx_stream.py`), under a steady stream.
@Suite(.serialized) struct FailoverTests {
    static let settings = """
        cluster: { heartbeat_interval: 500ms, lease_timeout: 2s }
        limits: { messages_per_hour: 0, bandwidth_per_month: 0 }
        """

    /// mx1 (MX 10) and mx2 (MX 20); mx1 started first, so it is active.
    static func pair() async throws -> (MailTestNode, MailTestNode) {
        let a = try await MailTestNode(extra: settings, name: "mx1")
        let b = try await MailTestNode(extra: settings, database: a.database, name: "mx2", token: a.token)
        try await a.startSink()
        try await b.startSink()
        try await a.startServer()
        #expect(await a.waitUntilAsync { try await holder(a) == "mx1" }, "\(a.log)")
        try await b.startServer()
        try await a.createAlias("shop")
        return (a, b)
    }

    static func holder(_ node: MailTestNode) async throws -> String? {
        try await node.sql("SELECT holder FROM cluster_lease WHERE name = 'active' AND expires_at > NOW(6)").rows.first?
            .optionalString("holder")
    }

    /// Runs the stream in the background; its result when it ends.
    struct StreamResult: Sendable {
        /// Token → the port that said 250.
        var accepted: [String: Int]
        var gaveUp: [String]
    }

    static func stream(_ a: MailTestNode, _ b: MailTestNode, count: Int, rate: Double) -> Task<StreamResult, any Error> {
        let out = a.folder + "/stream-\(UUID().uuidString).json"
        return Task {
            let (status, output) = try await MailTestNode.run(
                "python3", [MailTestNode.tool("mx_stream.py"), "\(a.smtpPort)", "\(b.smtpPort)", "\(count)", "\(rate)", out])
            #expect(status == 0, "\(output)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
            return StreamResult(accepted: json["accepted"] as? [String: Int] ?? [:], gaveUp: json["gave_up"] as? [String] ?? ["?"])
        }
    }

    /// The stream's tokens that reached either sink, with how often.
    static func arrived(_ nodes: [MailTestNode]) -> [String: Int] {
        var seen: [String: Int] = [:]
        for node in nodes {
            for (_, message) in node.received() {
                guard let range = message.range(of: "Subject: stream ") else { continue }
                seen[String(message[range.upperBound...].prefix(6)), default: 0] += 1
            }
        }
        return seen
    }

    /// No two runs of singleton work under different epochs overlap, and each epoch is one node's.
    static func singletonRunsNeverOverlap(_ node: MailTestNode) async throws {
        let runs = try await node.sql(
            "SELECT job, node, epoch, started_at, COALESCE(finished_at, started_at) AS finished FROM singleton_runs ORDER BY started_at").rows
        #expect(!runs.isEmpty)
        var nodeOfEpoch: [Int64: String] = [:]
        for run in runs {
            let epoch = try run.int("epoch"), name = try run.string("node")
            #expect(nodeOfEpoch[epoch, default: name] == name, "epoch \(epoch) ran on two nodes")
            nodeOfEpoch[epoch] = name
        }
        for (i, first) in runs.enumerated() {
            for second in runs[(i + 1)...] where try first.int("epoch") != second.int("epoch") {
                #expect(try second.date("started_at") >= first.date("finished"), "runs of two epochs overlap")
            }
        }
        let epochsInOrder = try runs.map { try $0.int("epoch") }
        #expect(epochsInOrder == epochsInOrder.sorted(), "a later run never has an older epoch")
    }

    @Test func killingTheActiveNodeMovesTheRoleAndLosesNothing() async throws {
        let (a, b) = try await Self.pair()
        defer { a.shutdown(); b.shutdown() }
        let stream = Self.stream(a, b, count: 100, rate: 15)
        try await Task.sleep(for: .seconds(2))
        a.killServer()
        let killed = ContinuousClock.now
        #expect(await b.waitUntilAsync(seconds: 20) { try await Self.holder(b) == "mx2" }, "\(b.log)")
        let takeover = ContinuousClock.now - killed
        // lease_timeout (2s) + one heartbeat (0.5s), and 1.5s of slack for a busy machine.
        #expect(takeover < .milliseconds(4000), "the standby took the role after \(takeover)")
        let result = try await stream.value
        let accepted = result.accepted
        #expect(result.gaveUp.isEmpty)
        #expect(accepted.count == 100)
        #expect(accepted.values.contains(Int(b.smtpPort)), "the stream went on through mx2")

        // The dead node comes back as standby, and delivers what it had accepted but not sent.
        try await a.startServer()
        #expect(await a.waitUntilAsync { try await a.sql("SELECT state FROM nodes WHERE name = 'mx1'").rows.first?.string("state") == "running" })
        try await Task.sleep(for: .seconds(1))
        #expect(try await Self.holder(a) == "mx2", "mx1 is back as standby")
        #expect(await a.waitUntil(seconds: 60) { Set(Self.arrived([a, b]).keys).isSuperset(of: accepted.keys) },
                "missing: \(Set(accepted.keys).subtracting(Self.arrived([a, b]).keys).sorted())")
        let list = try await a.cli(["node", "list"])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.contains("mx1  standby  running") && list.stdout.contains("mx2  active  running"), "\(list.stdout)")
        try await Self.singletonRunsNeverOverlap(a)
    }

    @Test func plannedFailoverAndDrainUnderLoadLoseNothing() async throws {
        let (a, b) = try await Self.pair()
        defer { a.shutdown(); b.shutdown() }
        // mx1's next hop refuses for now: what mx1 accepts is deferred, moves to the shared queue, and
        // is delivered by whichever node is active once that is mx2.
        try a.setSinkMode("tempfail")
        let stream = Self.stream(a, b, count: 120, rate: 15)
        try await Task.sleep(for: .seconds(1.5))

        let failover = try await a.cli(["failover", "--to", "mx2"])
        #expect(failover.status == 0, "\(failover.stderr)")
        #expect(failover.stdout.contains("mx2 is active"), "\(failover.stdout)")
        #expect(try await Self.holder(a) == "mx2")

        let drain = try await a.cli(["drain", "--node", "mx1"])
        #expect(drain.status == 0, "\(drain.stderr)")
        #expect(drain.stdout.contains("mx1 is drained"), "\(drain.stdout)")
        let refused = try await MailTestNode.run("swaks", ["--server", "127.0.0.1:\(a.smtpPort)", "--quit-after", "CONNECT"])
        #expect(refused.1.contains("421 4.3.2"), "a drained node refuses new sessions: \(refused.1)")
        let local = try await a.cli(["queue", "list"])
        #expect(local.stdout.contains("(0 on this node"), "\(local.stdout)")

        let result = try await stream.value
        let accepted = result.accepted
        #expect(result.gaveUp.isEmpty)
        #expect(accepted.count == 120)
        #expect(await a.waitUntil(seconds: 60) { Set(Self.arrived([a, b]).keys).isSuperset(of: accepted.keys) },
                "missing: \(Set(accepted.keys).subtracting(Self.arrived([a, b]).keys).sorted())")
        #expect(Self.arrived([a, b]).values.allSatisfy { $0 == 1 }, "a planned move delivers nothing twice")
        #expect(a.log.contains("moved to the shared queue"), "mx1's deferred mail went to the database")
        #expect(b.log.contains("taken from the shared queue"), "and mx2, active, delivered it")
        #expect(try await a.sql("SELECT COUNT(*) AS n FROM deferred_messages").rows.first?.int("n") == 0)
        #expect(try await b.get("/metrics").1.contains("postern_cluster_active 1\n"))
        #expect(try await a.get("/metrics").1.contains("postern_cluster_active 0\n"))
        #expect(try await !b.get("/metrics").1.contains("postern_shared_queue_taken_total 0\n"))

        // Back: mx1 takes mail and the role again.
        #expect(try await a.cli(["undrain", "--node", "mx1"]).status == 0)
        try a.setSinkMode("ok")
        #expect(await a.waitUntilAsync { try await a.sql("SELECT state FROM nodes WHERE name = 'mx1'").rows.first?.string("state") == "running" })
        let back = try await b.cli(["failover", "--to", "mx1"])
        #expect(back.status == 0, "\(back.stderr)")
        #expect(try await Self.holder(a) == "mx1")
        let unknown = try await a.cli(["failover", "--to", "mx9"])
        #expect(unknown.status == 1 && unknown.stderr.contains("no node named mx9"), "\(unknown.stderr)")
        try await Self.singletonRunsNeverOverlap(a)
        let epochs = try await a.sql("SELECT COUNT(DISTINCT epoch) AS n FROM singleton_runs").rows.first?.int("n") ?? 0
        #expect(epochs >= 3, "singleton work ran under each new holder")
    }
}
