import Dispatch
import Foundation

/// The durable queue of a node on disk (one directory, `spool.path`).
///
/// A message's image is a header line, its envelope as JSON, then its bytes exactly as received. An
/// accepted message is first appended to the journal (`journal/`, see `Journal`), with one fsync for
/// all the sessions storing at that moment, before `store` returns: only then may the SMTP server say
/// 250. A message still waiting after its first attempt is kept as its own file, `queue/ID`, written as
/// `queue/ID.partial`, fsync'd, renamed, and the directory fsync'd (shared with concurrent stores, see
/// `DirectorySync`). After a crash, the journal's messages not done are written to `queue/`; `.partial`
/// files are half-written and are discarded; a file whose sizes do not match its header is set aside as
/// `.damaged`. A name is never reused: the ids are unique, and a store that would replace a queued
/// message fails instead.
///
/// `state/ID` records delivery progress (attempts, what is done). It is rewritten by rename but not
/// fsync'd: losing it can only make Postern deliver a copy twice, never lose one.
public final class Spool: Sendable {
    public let path: String
    private let queueDirectory: String
    private let stateDirectory: String
    private let directorySync: DirectorySync
    private let journal: Journal
    private static let magic = "POSTERN-SPOOL 1"

    public init(path: String) throws(SpoolError) {
        self.path = path
        queueDirectory = path + "/queue"
        stateDirectory = path + "/state"
        for directory in [path, queueDirectory, stateDirectory] {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw .io("creating \(directory)", EACCES)
            }
        }
        directorySync = try DirectorySync(path: queueDirectory)
        journal = try Journal(path: path + "/journal")
    }

    public func close() {
        journal.close()
        directorySync.close()
    }

    // MARK: - Messages

    /// Writes the message and returns once it is on stable storage.
    public func store(_ message: SpooledMessage, body: [UInt8]) async throws {
        guard access(queueDirectory + "/" + message.id.text, F_OK) != 0 else {
            throw SpoolError.io("storing \(message.id): already queued", EEXIST)
        }
        try await journal.append(message.id, image: try Self.image(of: message, body: body))
    }

    /// Reads a queued message back.
    public func load(_ id: QueueID) throws -> (SpooledMessage, [UInt8]) {
        if let image = try journal.image(of: id) ?? notOwnedJournalImage(of: id) {
            return try Self.parse(image, id: id)
        }
        return try Self.parse(Self.read(queueDirectory + "/" + id.text), id: id)
    }

    static func image(of message: SpooledMessage, body: [UInt8]) throws -> [UInt8] {
        let envelope = try EnvelopeJSON.encode(message)
        var bytes = Array("\(Self.magic) \(envelope.count) \(body.count)\n".utf8)
        bytes.reserveCapacity(bytes.count + envelope.count + body.count)
        bytes += envelope
        bytes += body
        return bytes
    }

    static func parse(_ bytes: [UInt8], id: QueueID) throws -> (SpooledMessage, [UInt8]) {
        guard let newline = bytes.firstIndex(of: 10) else { throw SpoolError.corrupt(id.text) }
        let header = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ")
        guard header.count == 4, "\(header[0]) \(header[1])" == Self.magic, let envelopeLength = Int(header[2]),
              let bodyLength = Int(header[3]), envelopeLength >= 0, bodyLength >= 0,
              bytes.count == newline + 1 + envelopeLength + bodyLength
        else { throw SpoolError.corrupt(id.text) }
        let envelopeStart = newline + 1
        let bodyStart = envelopeStart + envelopeLength
        guard let message = try? JSONDecoder().decode(SpooledMessage.self, from: Data(bytes[envelopeStart..<bodyStart])),
              message.id == id
        else { throw SpoolError.corrupt(id.text) }
        return (message, Array(bytes[bodyStart...]))
    }

    /// For a process that only reads the spool (`postern queue`): the image of a message in the
    /// running node's journal, read from its segments.
    private func notOwnedJournalImage(of id: QueueID) -> [UInt8]? {
        guard !journal.isOwned else { return nil }
        return journal.messagesOnDisk().first { $0.0 == id }?.1
    }

    /// Whether the message is in the journal: accepted moments ago, its first attempt not over.
    public func isInFirstAttempt(_ id: QueueID) -> Bool {
        if journal.isOwned { return journal.contains(id) }
        // `keep` writes the queue file before the journal's done record.
        return access(queueDirectory + "/" + id.text, F_OK) != 0 && journal.messagesOnDisk().contains { $0.0 == id }
    }

    /// Writes a message of the journal to `queue/ID`, durably, and marks it done in the journal.
    private func keep(_ id: QueueID) async throws {
        guard let image = try journal.image(of: id) else { return }
        let file = queueDirectory + "/" + id.text
        try await Self.blocking { try Self.place(image, at: file) }
        try await directorySync.sync()
        journal.markDone(id, promptly: true)
    }

    /// Writes `bytes` as `file` (through `file.partial`, fsync'd); the caller syncs the directory.
    /// Never over another message: the partial file is created exclusively, and link() (unlike rename)
    /// fails when the final name exists.
    static func place(_ bytes: [UInt8], at file: String) throws {
        try writeSynced(bytes, to: file + ".partial")
        defer { unlink(file + ".partial") }
        guard link(file + ".partial", file) == 0 else { throw SpoolError.io("moving \(file) into the queue", errno) }
    }

    /// What is queued, after a restart, before the node accepts mail: discards half-written files and
    /// sets aside those whose structure is damaged. A file that cannot be read now (EIO, EMFILE) is
    /// listed all the same: it is tried again later, never set aside for a passing error.
    public func recover() throws -> [QueueID] {
        var kept = false
        try journal.takeOver(keeping: { id, image in
            let file = queueDirectory + "/" + id.text
            guard access(file, F_OK) != 0 else { return }  // kept before the crash
            unlink(file + ".partial")  // left by a crash during an earlier recovery
            try Self.place(image, at: file)
            kept = true
        }, sync: {
            guard kept else { return }
            let directory = open(queueDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            defer { if directory >= 0 { Foundation.close(directory) } }
            guard directory >= 0, fsync(directory) == 0 else { throw SpoolError.io("fsync of the spool directory", errno) }
        })
        let names = (try? FileManager.default.contentsOfDirectory(atPath: queueDirectory)) ?? []
        var ids: [QueueID] = []
        for name in names {
            if name.hasSuffix(".partial") {
                unlink(queueDirectory + "/" + name)
            } else if let id = QueueID(name) {
                do {
                    _ = try load(id)
                    ids.append(id)
                } catch SpoolError.corrupt {
                    setAside(id)
                } catch {
                    ids.append(id)
                }
            }
        }
        return ids.sorted()
    }

    /// Moves a structurally damaged file out of the queue, as `ID.damaged`, for the administrator.
    public func setAside(_ id: QueueID) {
        if let image = try? journal.image(of: id) {
            try? Self.place(image, at: queueDirectory + "/" + id.text + ".damaged")
            journal.markDone(id)
        }
        rename(queueDirectory + "/" + id.text, queueDirectory + "/" + id.text + ".damaged")
        unlink(stateDirectory + "/" + id.text)
    }

    /// The ids in the queue now (in the journal and in `queue/`), without reading the queue's files.
    public func queuedIDs() -> [QueueID] {
        let journaled = journal.isOwned ? journal.liveIDs : journal.messagesOnDisk().map(\.0)
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: queueDirectory)) ?? []).compactMap(QueueID.init)
        return Array(Set(journaled + files)).sorted()
    }

    /// Every queued message that can be read, in id order (`postern queue list`): the journal is read
    /// once, not once a message.
    public func loadAll() -> [(SpooledMessage, [UInt8])] {
        var images: [QueueID: [UInt8]] = [:]
        if journal.isOwned {
            for id in journal.liveIDs { images[id] = try? journal.image(of: id) }
        } else {
            for (id, image) in journal.messagesOnDisk() { images[id] = image }
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: queueDirectory)) ?? [] {
            guard let id = QueueID(name), images[id] == nil else { continue }
            images[id] = try? Self.read(queueDirectory + "/" + name)
        }
        return images.sorted { $0.key < $1.key }.compactMap { id, image in try? Self.parse(image, id: id) }
    }

    public func contains(_ id: QueueID) -> Bool {
        journal.contains(id) || access(queueDirectory + "/" + id.text, F_OK) == 0 || (!journal.isOwned && isInFirstAttempt(id))
    }

    /// Asks the node that owns this spool to try every deferred message now (`postern queue flush`).
    public func requestFlush() throws {
        guard FileManager.default.createFile(atPath: path + "/flush", contents: Data()) else {
            throw SpoolError.io("writing the flush request", errno)
        }
    }

    /// Whether a flush was asked for since the last call.
    public func takeFlushRequest() -> Bool { unlink(path + "/flush") == 0 }

    /// Removes a message that needs nothing more (every copy delivered or given up).
    public func remove(_ id: QueueID) {
        // A message in the journal has neither a queue file nor a state file yet (`keep` writes both).
        if journal.markDone(id) { return }
        unlink(stateDirectory + "/" + id.text)
        unlink(queueDirectory + "/" + id.text)
    }

    // MARK: - Delivery progress

    public func progress(of id: QueueID) -> DeliveryProgress? {
        guard let data = FileManager.default.contents(atPath: stateDirectory + "/" + id.text) else { return nil }
        return try? JSONDecoder().decode(DeliveryProgress.self, from: data)
    }

    /// Records how far delivery has come. A message still in the journal is first kept as its own file.
    public func saveProgress(_ progress: DeliveryProgress, of id: QueueID) async throws {
        try await keep(id)
        let file = stateDirectory + "/" + id.text
        let data = try JSONEncoder().encode(progress)
        guard FileManager.default.createFile(atPath: file + ".new", contents: data),
              rename(file + ".new", file) == 0
        else { throw SpoolError.io("writing the state of \(id)", errno) }
    }

    // MARK: - Blocking I/O

    /// Runs blocking file work off the cooperative thread pool. Concurrent fsyncs of different files
    /// are merged by the file system's journal, which is the point of running them side by side.
    static func blocking(_ work: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            DispatchQueue.global().async {
                do {
                    try work()
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    static func read(_ file: String) throws(SpoolError) -> [UInt8] {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("opening \(file)", errno) }
        defer { Foundation.close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io("reading \(file)", errno) }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw .io("reading \(file)", n < 0 ? errno : EIO) }
            done += n
        }
        return bytes
    }

    static func writeSynced(_ bytes: [UInt8], to file: String) throws {
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SpoolError.io("creating \(file)", errno) }
        defer { Foundation.close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { raw in write(fd, raw.baseAddress! + written, raw.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                unlink(file)
                throw SpoolError.io("writing \(file)", code)
            }
            written += n
        }
        guard fdatasync(fd) == 0 else {
            let code = errno
            unlink(file)
            throw SpoolError.io("fsync of \(file)", code)
        }
    }
}

/// How far delivery of one queued message has come.
public struct DeliveryProgress: Codable, Sendable, Equatable {
    public var attempts: Int
    public var firstAttemptAt: Date?
    public var nextAttemptAt: Date
    /// Indexes into the message's deliveries that need nothing more (delivered, or failed for good).
    public var finished: Set<Int>
    /// The last temporary failure, for `postern queue show`.
    public var lastProblem: String?

    public init(attempts: Int = 0, firstAttemptAt: Date? = nil, nextAttemptAt: Date, finished: Set<Int> = [],
                lastProblem: String? = nil) {
        self.attempts = attempts
        self.firstAttemptAt = firstAttemptAt
        self.nextAttemptAt = nextAttemptAt
        self.finished = finished
        self.lastProblem = lastProblem
    }
}
