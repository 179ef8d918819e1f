import Dispatch
import Foundation
import Synchronization

/// Where accepted messages are written first: append-only segment files in `journal/`, shared by every
/// session, with one `fdatasync` for all the messages that arrived while the previous one ran (group
/// commit). A message leaves the journal when its first attempt ends: delivered (a done record is
/// appended, not synced), or kept for a retry (its image is written to `queue/ID`, fsync'd, and then
/// marked done here). A segment is deleted once it is no longer written to and every message in it is
/// done.
///
/// A segment is a run of records:
/// - `POSTERN-JOURNAL ID LENGTH\n` and then LENGTH octets: the message's image, exactly what `queue/ID`
///   would hold;
/// - `POSTERN-DONE ID\n`: that message needs nothing more from this segment.
///
/// A crash can cut the last record short; reading stops there (that message never got its 250). After
/// a restart, `takeOver` writes what is not done to `queue/` and deletes the segments. A done record
/// lost in a crash of the machine (not of the process: the page cache keeps it) can only make a
/// message go out twice.
final class Journal: Sendable {
    /// Where a message's image is.
    private struct Location {
        var segment: Int
        var offset: Int
        var length: Int
    }

    private struct Segment {
        let descriptor: Int32
        /// Where the next record goes.
        var end: Int
        /// Messages in it that are not done.
        var live: Int
    }

    private struct Append {
        var id: QueueID
        var image: [UInt8]
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var segments: [Int: Segment] = [:]
        /// The segment new records go to.
        var current: Int?
        var nextNumber: Int
        var index: [QueueID: Location] = [:]
        var appends: [Append] = []
        /// Done records still to write, by segment.
        var done: [Int: [QueueID]] = [:]
        /// This process wrote or took over the journal: its index is the whole truth. A process that
        /// only reads (`postern queue`) reads the segments instead.
        var owner = false
        var closed = false
    }

    /// A segment takes new records until it is this long.
    static let segmentLimit = 8 << 20
    private static let recordTag = Array("POSTERN-JOURNAL ".utf8)
    private static let doneTag = Array("POSTERN-DONE ".utf8)

    let path: String
    private let state: Mutex<State>
    private let wake = DispatchSemaphore(value: 0)

    init(path: String) throws(SpoolError) {
        self.path = path
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw .io("creating \(path)", EACCES)
        }
        let highest = Self.segmentNumbers(in: path).last ?? 0
        state = Mutex(State(nextNumber: highest + 1))
        let thread = Thread { [self] in self.run() }
        thread.name = "postern.spool.journal"
        thread.start()
    }

    // MARK: - The node's side

    /// Appends an image and returns once it is on stable storage.
    func append(_ id: QueueID, image: [UInt8]) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let refused: SpoolError? = state.withLock { state in
                if state.closed { return .closed }
                if state.index[id] != nil || state.appends.contains(where: { $0.id == id }) {
                    return .io("storing \(id): already queued", EEXIST)
                }
                state.owner = true
                state.appends.append(Append(id: id, image: image, continuation: continuation))
                return nil
            }
            if let refused { continuation.resume(throwing: refused) } else { wake.signal() }
        }
    }

    func contains(_ id: QueueID) -> Bool {
        state.withLock { $0.index[id] != nil }
    }

    /// Whether this process's index is the journal's (it wrote or took over the journal).
    var isOwned: Bool { state.withLock { $0.owner } }

    /// The image of a message in the journal; nil when it is not there.
    func image(of id: QueueID) throws(SpoolError) -> [UInt8]? {
        try state.withLock { state throws(SpoolError) -> [UInt8]? in
            guard let location = state.index[id], let segment = state.segments[location.segment] else { return nil }
            var bytes = [UInt8](repeating: 0, count: location.length)
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeMutableBytes { pread(segment.descriptor, $0.baseAddress! + done, $0.count - done, off_t(location.offset + done)) }
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { throw .io("reading \(id) from the journal", n < 0 ? errno : EIO) }
                done += n
            }
            return bytes
        }
    }

    /// The message needs nothing more from the journal (delivered, or kept in `queue/`).
    /// Returns whether the message was in the journal. The done record is written with the next
    /// appends, or within `idleWrite` when none come; `promptly`: now.
    @discardableResult
    func markDone(_ id: QueueID, promptly: Bool = false) -> Bool {
        let known = state.withLock { state in
            guard let location = state.index.removeValue(forKey: id) else { return false }
            state.segments[location.segment]?.live -= 1
            state.done[location.segment, default: []].append(id)
            return true
        }
        if known && promptly { wake.signal() }
        return known
    }

    /// How long done records wait for appends to go with.
    static let idleWrite: DispatchTimeInterval = .milliseconds(100)

    var liveIDs: [QueueID] { state.withLock { Array($0.index.keys) } }

    /// Writes what is pending, then stops the thread. Messages not done stay in their segments for the
    /// next start.
    func close() {
        state.withLock { $0.closed = true }
        wake.signal()
    }

    /// After a restart, before any append: hands every message not done to `keep` (which writes it to
    /// `queue/`), calls `sync` (which makes that durable), and only then deletes the segments. When
    /// something fails, the segments stay for the next start.
    func takeOver(keeping keep: (QueueID, [UInt8]) throws -> Void, sync: () throws -> Void) throws {
        try state.withLock { state in
            state.owner = true
            for segment in state.segments.values { Foundation.close(segment.descriptor) }
            state.segments = [:]
            state.current = nil
            state.index = [:]
            state.done = [:]
            let numbers = Self.segmentNumbers(in: path)
            for number in numbers {
                for (id, image) in Self.liveRecords(in: try Spool.read(Self.file(number, in: path))) { try keep(id, image) }
                state.nextNumber = max(state.nextNumber, number + 1)
            }
            try sync()
            for number in numbers { unlink(Self.file(number, in: path)) }
        }
    }

    // MARK: - Reading without the index (`postern queue`)

    /// The messages not done in the segments on disk, read from the files.
    func messagesOnDisk() -> [(QueueID, [UInt8])] {
        Self.segmentNumbers(in: path).flatMap { number in
            (try? Spool.read(Self.file(number, in: path))).map(Self.liveRecords(in:)) ?? []
        }
    }

    /// The records of a segment's bytes that are not done, in order; reading stops at the first record
    /// that is cut short or not a record.
    static func liveRecords(in bytes: [UInt8]) -> [(QueueID, [UInt8])] {
        var records: [(QueueID, [UInt8])] = []
        var done: Set<QueueID> = []
        var position = 0
        while let newline = bytes[position...].firstIndex(of: 10) {
            let fields = bytes[position..<newline].split(separator: 32)
            if fields.count == 3, Array(fields[0]) + [32] == recordTag,
               let id = QueueID(String(decoding: fields[1], as: UTF8.self)),
               let length = Int(String(decoding: fields[2], as: UTF8.self)), length >= 0, newline + 1 + length <= bytes.count {
                records.append((id, Array(bytes[(newline + 1)..<(newline + 1 + length)])))
                position = newline + 1 + length
            } else if fields.count == 2, Array(fields[0]) + [32] == doneTag,
                      let id = QueueID(String(decoding: fields[1], as: UTF8.self)) {
                done.insert(id)
                position = newline + 1
            } else {
                break
            }
        }
        return records.filter { !done.contains($0.0) }
    }

    static func record(_ id: QueueID, image: [UInt8]) -> [UInt8] {
        recordTag + Array("\(id.text) \(image.count)\n".utf8)
    }

    static func doneRecord(_ id: QueueID) -> [UInt8] {
        doneTag + Array("\(id.text)\n".utf8)
    }

    private static func segmentNumbers(in path: String) -> [Int] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).compactMap { Int($0) }.sorted()
    }

    private static func file(_ number: Int, in path: String) -> String {
        let digits = String(number)
        return path + "/" + String(repeating: "0", count: max(0, 10 - digits.count)) + digits
    }

    // MARK: - The writer

    private func run() {
        while true {
            _ = wake.wait(timeout: .now() + Self.idleWrite)
            let (appends, done, closed) = state.withLock { state in
                defer {
                    state.appends = []
                    state.done = [:]
                }
                return (state.appends, state.done, state.closed)
            }
            writeDone(done)
            if !appends.isEmpty {
                let outcome: Result<[(QueueID, Location)], SpoolError>
                do throws(SpoolError) {
                    outcome = .success(try write(appends))
                } catch {
                    outcome = .failure(error)
                }
                if case .success(let locations) = outcome {
                    state.withLock { state in
                        for (id, location) in locations { state.index[id] = location }
                    }
                }
                for append in appends {
                    switch outcome {
                    case .success: append.continuation.resume()
                    case .failure(let error): append.continuation.resume(throwing: error)
                    }
                }
            }
            retireFinishedSegments()
            if closed {
                let left = state.withLock { state in
                    defer { state.appends = [] }
                    return state.appends
                }
                for append in left { append.continuation.resume(throwing: SpoolError.closed) }
                let descriptors = state.withLock { state in
                    defer { state.segments = [:] }
                    return state.segments.values.map(\.descriptor)
                }
                for descriptor in descriptors { Foundation.close(descriptor) }
                return
            }
        }
    }

    /// Appends the records to the current segment (a new one when there is none or it is full) and
    /// syncs it. On failure the segment is cut back to where it was, or left for a new one.
    private func write(_ appends: [Append]) throws(SpoolError) -> [(QueueID, Location)] {
        let (number, segment) = try currentSegment()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(appends.reduce(0) { $0 + $1.image.count + 64 })
        var locations: [(QueueID, Location)] = []
        for append in appends {
            bytes += Self.record(append.id, image: append.image)
            locations.append((append.id, Location(segment: number, offset: segment.end + bytes.count, length: append.image.count)))
            bytes += append.image
        }
        do throws(SpoolError) {
            try Self.write(bytes, to: segment.descriptor, at: segment.end)
            guard fdatasync(segment.descriptor) == 0 else { throw .io("fsync of the journal", errno) }
        } catch {
            if ftruncate(segment.descriptor, off_t(segment.end)) != 0 {
                state.withLock { if $0.current == number { $0.current = nil } }
            }
            throw error
        }
        state.withLock { state in
            state.segments[number]?.end += bytes.count
            state.segments[number]?.live += appends.count
        }
        return locations
    }

    /// The segment to append to; a new one (its name made durable first) when the current one is full.
    private func currentSegment() throws(SpoolError) -> (Int, Segment) {
        let existing = state.withLock { state -> (Int, Segment)? in
            guard let number = state.current, let segment = state.segments[number], segment.end < Self.segmentLimit else { return nil }
            return (number, segment)
        }
        if let existing { return existing }
        let number = state.withLock { state in
            defer { state.nextNumber += 1 }
            return state.nextNumber
        }
        let file = Self.file(number, in: path)
        let descriptor = open(file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .io("creating \(file)", errno) }
        let directory = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        let synced = directory >= 0 && fsync(directory) == 0
        let code = errno
        if directory >= 0 { Foundation.close(directory) }
        guard synced else {
            Foundation.close(descriptor)
            unlink(file)
            throw .io("fsync of the journal directory", code)
        }
        let segment = Segment(descriptor: descriptor, end: 0, live: 0)
        state.withLock { state in
            state.segments[number] = segment
            state.current = number
        }
        return (number, segment)
    }

    /// Done records go to the segment of their message; not synced.
    private func writeDone(_ done: [Int: [QueueID]]) {
        for (number, ids) in done {
            guard let segment = state.withLock({ $0.segments[number] }), segment.live > 0 || number == state.withLock({ $0.current }) else {
                continue  // about to be deleted: nothing in it needs a record
            }
            let bytes = ids.flatMap(Self.doneRecord)
            do throws(SpoolError) {
                try Self.write(bytes, to: segment.descriptor, at: segment.end)
                state.withLock { $0.segments[number]?.end += bytes.count }
            } catch {
                // Without the record, a crash before the segment goes would send the message again.
                _ = ftruncate(segment.descriptor, off_t(segment.end))
            }
        }
    }

    /// Deletes the segments no longer written to whose messages are all done.
    private func retireFinishedSegments() {
        let finished = state.withLock { state -> [(Int, Int32)] in
            let numbers = state.segments.compactMap { number, segment in number != state.current && segment.live == 0 ? number : nil }
            return numbers.compactMap { number in state.segments.removeValue(forKey: number).map { (number, $0.descriptor) } }
        }
        for (number, descriptor) in finished {
            unlink(Self.file(number, in: path))
            Foundation.close(descriptor)
        }
    }

    private static func write(_ bytes: [UInt8], to descriptor: Int32, at offset: Int) throws(SpoolError) {
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress! + written, $0.count - written, off_t(offset + written)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw .io("writing the journal", n < 0 ? errno : EIO) }
            written += n
        }
    }
}
