import Foundation
import Testing

@testable import Spool

@Suite struct SpoolTests {
    func makeSpool() throws -> Spool {
        try Spool(path: NSTemporaryDirectory() + "spool-test-" + UUID().uuidString)
    }

    func message(_ id: QueueID = .make()) -> SpooledMessage {
        SpooledMessage(
            id: id, receivedAt: Date(timeIntervalSince1970: 1_700_000_000), clientAddress: "127.0.0.1", heloName: "c.example",
            sender: "bob@example.com", smtpUTF8: false,
            deliveries: [.init(recipient: "alice@dest.test", alias: "shop@relay.test", aliasID: "a1", userID: "u1", recipientID: "r1")])
    }

    @Test func storedMessagesComeBackByteForByte() async throws {
        let spool = try makeSpool()
        defer { spool.close() }
        let body: [UInt8] = Array("Subject: x\r\n\r\n\u{00e9}t\u{00e9}\r\n".utf8) + [0, 255, 13, 10]
        let original = message()
        try await spool.store(original, body: body)
        let (loaded, loadedBody) = try spool.load(original.id)
        #expect(loaded == original)
        #expect(loadedBody == body)
        #expect(try spool.recover() == [original.id])
        spool.remove(original.id)
        #expect(try spool.recover().isEmpty)
    }

    @Test func concurrentStoresAllLand() async throws {
        let spool = try makeSpool()
        defer { spool.close() }
        let ids = (0..<200).map { _ in QueueID.make() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for id in ids { group.addTask { try await spool.store(message(id), body: Array("x\r\n".utf8)) } }
            try await group.waitForAll()
        }
        #expect(Set(try spool.recover()) == Set(ids))
    }

    @Test func recoveryDropsPartialFilesAndSetsDamagedOnesAside() async throws {
        let spool = try makeSpool()
        defer { spool.close() }
        let good = message()
        try await spool.store(good, body: Array("ok\r\n".utf8))
        let partial = QueueID.make()
        _ = FileManager.default.createFile(atPath: spool.path + "/queue/\(partial).partial", contents: Data("POSTERN-SPOOL 1 10".utf8))
        let truncated = QueueID.make()
        _ = FileManager.default.createFile(atPath: spool.path + "/queue/\(truncated)", contents: Data("POSTERN-SPOOL 1 500 20\n{}".utf8))
        #expect(try spool.recover() == [good.id])
        let names = try FileManager.default.contentsOfDirectory(atPath: spool.path + "/queue")
        #expect(!names.contains { $0.hasSuffix(".partial") })
        #expect(names.contains("\(truncated).damaged"))
    }

    @Test func progressIsKeptBesideTheMessage() async throws {
        let spool = try makeSpool()
        defer { spool.close() }
        let m = message()
        try await spool.store(m, body: [13, 10])
        #expect(spool.progress(of: m.id) == nil)
        let progress = DeliveryProgress(attempts: 2, nextAttemptAt: Date(timeIntervalSince1970: 1_800_000_000), finished: [0],
                                        lastProblem: "451 4.3.0 later")
        try spool.saveProgress(progress, of: m.id)
        #expect(spool.progress(of: m.id) == progress)
    }

    @Test func queueIDs() {
        let a = QueueID.make(now: Date(timeIntervalSince1970: 1_700_000_000))
        let b = QueueID.make(now: Date(timeIntervalSince1970: 1_700_000_001))
        #expect(a < b)
        #expect(a.text.count == 16)
        #expect(QueueID("../../etc/passwd") == nil)
        #expect(QueueID("0123456789abcdef") == nil, "upper-case hex only")
    }
}
