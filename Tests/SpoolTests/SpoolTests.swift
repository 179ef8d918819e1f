import Foundation
import MailCore
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
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool.path + "/queue").isEmpty, "no partial file left behind")
        #expect(spool.queuedIDs() == [first.id])
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
        try await spool.saveProgress(progress, of: m.id)
        #expect(spool.progress(of: m.id) == progress)
    }

    func names(_ spool: Spool, _ folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: spool.path + "/" + folder).sorted()
    }

    @Test func messagesWaitInTheJournalUntilTheirFirstAttemptEnds() async throws {
        let spool = try makeSpool()
        defer { spool.close() }
        let delivered = message()
        let deferred = message()
        try await spool.store(delivered, body: Array("one\r\n".utf8))
        try await spool.store(deferred, body: Array("two\r\n".utf8))
        #expect(try names(spool, "queue").isEmpty, "nothing but the journal was written")
        #expect(try names(spool, "journal").count == 1)
        #expect(spool.isInFirstAttempt(delivered.id) && spool.contains(delivered.id))
        #expect(try spool.load(deferred.id).1 == Array("two\r\n".utf8))

        spool.remove(delivered.id)
        #expect(!spool.contains(delivered.id))
        // A deferred message becomes its own file, fsync'd, and leaves the journal.
        let progress = DeliveryProgress(attempts: 1, nextAttemptAt: Date(timeIntervalSince1970: 1_800_000_000))
        try await spool.saveProgress(progress, of: deferred.id)
        #expect(try names(spool, "queue") == [deferred.id.text])
        #expect(!spool.isInFirstAttempt(deferred.id) && spool.contains(deferred.id))
        #expect(try spool.load(deferred.id).1 == Array("two\r\n".utf8))
        #expect(spool.queuedIDs() == [deferred.id])
    }

    @Test func aRestartKeepsWhatTheJournalHeldAndNothingDone() async throws {
        let first = try makeSpool()
        let done = message()
        let waiting = message()
        try await first.store(done, body: Array("done\r\n".utf8))
        try await first.store(waiting, body: Array("waiting\r\n".utf8))
        first.remove(done.id)
        first.close()  // as after kill -9: nothing more is written; the page cache keeps the done record
        try await Task.sleep(for: .milliseconds(100))

        // A crash during an earlier recovery left half a copy behind.
        _ = FileManager.default.createFile(atPath: first.path + "/queue/\(waiting.id).partial", contents: Data("POSTERN".utf8))

        let again = try Spool(path: first.path)
        defer { again.close() }
        #expect(try again.recover() == [waiting.id])
        #expect(try names(again, "journal").isEmpty, "the segments were taken over and deleted")
        #expect(try names(again, "queue") == [waiting.id.text])
        #expect(try again.load(waiting.id) == (waiting, Array("waiting\r\n".utf8)))
        let later = message()
        try await again.store(later, body: [13, 10])
        #expect(Set(again.queuedIDs()) == [waiting.id, later.id])
    }

    @Test func aRecordCutShortByACrashIsIgnored() async throws {
        let spool = try makeSpool()
        let kept = message()
        try await spool.store(kept, body: Array("kept\r\n".utf8))
        spool.close()
        try await Task.sleep(for: .milliseconds(100))
        let segment = spool.path + "/journal/" + (try names(spool, "journal")[0])
        let handle = try #require(FileHandle(forWritingAtPath: segment))
        handle.seekToEndOfFile()
        handle.write(Data("POSTERN-JOURNAL \(QueueID.make()) 5000\nPOSTERN-SPOOL 1 2".utf8))
        try handle.close()

        let again = try Spool(path: spool.path)
        defer { again.close() }
        #expect(try again.recover() == [kept.id])
    }

    @Test func anotherProcessReadsTheJournalFromItsFiles() async throws {
        let node = try makeSpool()
        defer { node.close() }
        let accepted = message()
        try await node.store(accepted, body: Array("hello\r\n".utf8))
        // `postern queue` opens the same spool without taking it over.
        let reader = try Spool(path: node.path)
        defer { reader.close() }
        #expect(reader.queuedIDs() == [accepted.id])
        #expect(reader.isInFirstAttempt(accepted.id))
        #expect(try reader.load(accepted.id).1 == Array("hello\r\n".utf8))
        node.remove(accepted.id)
        // The done record goes with the next appends, or within a tenth of a second.
        #expect(await waitFor { reader.queuedIDs().isEmpty })
        #expect(!reader.contains(accepted.id))
    }

    @Test func aFullSegmentIsDeletedOnceEveryMessageInItIsDone() async throws {
        let spool = try makeSpool()
        defer { spool.close() }
        let big = [UInt8](repeating: 65, count: Journal.segmentLimit / 2 + 1)
        let ids = [message(), message(), message()]
        for m in ids { try await spool.store(m, body: big) }
        #expect(try names(spool, "journal").count == 2, "the third message started a second segment")
        spool.remove(ids[0].id)
        try await Task.sleep(for: .milliseconds(100))
        #expect(try names(spool, "journal").count == 2, "the first segment still holds a message")
        spool.remove(ids[1].id)
        #expect(await waitFor { try names(spool, "journal").count == 1 })
        #expect(try spool.load(ids[2].id).1 == big)
    }

    @Test func journalRecordsReadBack() {
        let a = QueueID.make()
        let b = QueueID.make()
        let c = QueueID.make()
        let bytes = Journal.record(a, image: [1, 2, 3]) + [1, 2, 3] + Journal.record(b, image: []) + Journal.doneRecord(a)
            + Journal.record(c, image: [10, 10]) + [10, 10] + Array("POSTERN-JOURNAL \(a.text) 9\n12".utf8)
        let live = Journal.liveRecords(in: bytes)
        #expect(live.map(\.0) == [b, c])
        #expect(live.map(\.1) == [[], [10, 10]])
        #expect(Journal.liveRecords(in: Array("garbage\n".utf8) + Journal.record(a, image: [])).isEmpty, "reading stops at what is not a record")
    }

    func waitFor(_ condition: () throws -> Bool) async -> Bool {
        for _ in 0..<50 {
            if (try? condition()) == true { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    @Test func envelopeJSONCoversEveryField() throws {
        let full = SpooledMessage(
            id: .make(), receivedAt: Date(timeIntervalSinceReferenceDate: 785_000_123.456789), clientAddress: "[2001:db8::1]",
            heloName: "h\u{e9}lo \"q\" \\ \u{1}\t", sender: "b\u{f6}b@example.com", smtpUTF8: true,
            deliveries: [
                .init(recipient: "alice@dest.test", alias: "shop@relay.test", aliasID: "a1", userID: "u1", recipientID: "r1",
                      style: ForwardingStyle(fromDisplay: .nameDashAddress, useReplyTo: true, banner: .top, dmarcWarning: .subject),
                      notice: false, reply: true,
                      encryption: RecipientEncryption(fingerprint: "ABCD", keyDigest: "d", inline: true, protectedHeaders: true,
                                                      whenKeyFails: .hold)),
                .init(recipient: "b@dest.test", alias: "x@relay.test", aliasID: nil, userID: nil, recipientID: nil),
            ])
        let bare = SpooledMessage(id: .make(), receivedAt: Date(timeIntervalSince1970: 0), clientAddress: "", heloName: "",
                                  sender: nil, smtpUTF8: false, deliveries: [])
        for message in [full, bare] {
            let json = try EnvelopeJSON.encode(message)
            #expect(try JSONDecoder().decode(SpooledMessage.self, from: Data(json)) == message)
            #expect(try JSONSerialization.jsonObject(with: Data(json)) as? NSDictionary
                == JSONSerialization.jsonObject(with: JSONEncoder().encode(message)) as? NSDictionary,
                    "the same document as JSONEncoder's")
        }
        // A stored property added to one of these must be written by EnvelopeJSON too.
        #expect(Mirror(reflecting: full).children.count == 7)
        #expect(Mirror(reflecting: full.deliveries[0]).children.count == 9)
        #expect(Mirror(reflecting: ForwardingStyle()).children.count == 4)
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
