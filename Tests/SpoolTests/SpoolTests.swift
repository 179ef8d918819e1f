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

    @Test func aStoreNeverReplacesAQueuedMessage() async throws {
        let spool = try makeSpool()
        defer { spool.close() }
        let first = message()
        try await spool.store(first, body: Array("first\r\n".utf8))
        await #expect(throws: SpoolError.self) { try await spool.store(first, body: Array("second\r\n".utf8)) }
        #expect(try spool.load(first.id).1 == Array("first\r\n".utf8))
        let names = try FileManager.default.contentsOfDirectory(atPath: spool.path + "/queue")
        #expect(names == [first.id.text], "no partial file left behind")
    }

    @Test func aFileThatCannotBeReadNowIsKeptNotSetAside() async throws {
        let spool = try makeSpool()
        defer { spool.close() }
        // A directory in place of the file: reading it fails with EISDIR, an I/O error, not damage.
        let unreadable = QueueID.make()
        try FileManager.default.createDirectory(atPath: spool.path + "/queue/\(unreadable)", withIntermediateDirectories: false)
        #expect(throws: SpoolError.self) { try spool.load(unreadable) }
        #expect(try spool.recover() == [unreadable])
        #expect(!FileManager.default.fileExists(atPath: spool.path + "/queue/\(unreadable).damaged"))
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
        #expect(a.text.count == 18)
        #expect(QueueID("0123456789ABCDEF") != nil, "16-digit ids of older spools are still read")
        let late = QueueID.make(now: Date(timeIntervalSince1970: 4_000_000_000))
        #expect(a < late, "no wrap-around within this century")
        #expect(QueueID("../../etc/passwd") == nil)
        #expect(QueueID("0123456789abcdef") == nil, "upper-case hex only")
    }
}
