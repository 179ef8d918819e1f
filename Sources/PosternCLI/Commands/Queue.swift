import ArgumentParser
import Foundation
import PosternConfig
import Spool

/// `postern queue list | show ID | flush | delete ID`: this node's spool, read and changed directly
/// (the running node notices a flush request and deleted files within a second).
struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue", abstract: "Inspect and act on this node's queue.",
        subcommands: [List.self, Show.self, Flush.self, Delete.self])

    static func openSpool(_ global: GlobalOptions) throws -> Spool {
        let config = try global.loadConfig()
        guard FileManager.default.fileExists(atPath: config.spoolPath) else {
            throw CLIFailure("spool.path \(config.spoolPath) does not exist (has this node run?)")
        }
        do {
            return try Spool(path: config.spoolPath)
        } catch {
            throw CLIFailure("cannot open the spool at \(config.spoolPath): \(error)")
        }
    }

    /// Opens the spool and finds the queued message `text` names, or says why not.
    static func withQueued(_ text: String, _ global: GlobalOptions, _ body: (Spool, QueueID) throws -> Void) throws {
        guard let id = QueueID(text.uppercased()) else { throw CLIFailure("'\(text)' is not a queue id (18 hex digits)") }
        let spool = try openSpool(global)
        defer { spool.close() }
        guard spool.contains(id) else { throw CLIFailure("no message \(id) in the queue") }
        try body(spool, id)
    }

    static let timeFormat: DateFormatter = {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss'Z'"
        return f
    }()

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One line per queued message: id, arrival, size, sender, recipients left, attempts, next try.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await reportingFailures {
                let spool = try QueueCommand.openSpool(global)
                defer { spool.close() }
                var count = 0
                for id in spool.queuedIDs() {
                    guard let (message, body) = try? spool.load(id) else { continue }
                    let progress = spool.progress(of: id)
                    let left = message.deliveries.indices.filter { !(progress?.finished.contains($0) ?? false) }
                        .map { message.deliveries[$0].recipient }
                    let next = progress.map { QueueCommand.timeFormat.string(from: $0.nextAttemptAt) } ?? "now"
                    print("\(id)  \(QueueCommand.timeFormat.string(from: message.receivedAt))  \(body.count)  "
                        + "<\(message.sender ?? "")>  \(left.joined(separator: ","))  attempts=\(progress?.attempts ?? 0)  next=\(next)")
                    count += 1
                }
                print("\(count) message\(count == 1 ? "" : "s") queued")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A queued message: its envelope, progress, and headers.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The queue id.") var id: String

        func run() async throws {
            try await reportingFailures {
                try QueueCommand.withQueued(id, global) { spool, id in
                    let (message, body) = try spool.load(id)
                    let progress = spool.progress(of: id)
                    print("id: \(id)")
                    print("received: \(QueueCommand.timeFormat.string(from: message.receivedAt)) from \(message.clientAddress) (\(message.heloName))")
                    print("sender: <\(message.sender ?? "")>")
                    for (index, delivery) in message.deliveries.enumerated() {
                        let state = progress?.finished.contains(index) == true ? "done" : "pending"
                        print("delivery: \(delivery.recipient) via \(delivery.alias) [\(state)]")
                    }
                    print("attempts: \(progress?.attempts ?? 0)")
                    if let problem = progress?.lastProblem { print("last problem: \(problem)") }
                    print("size: \(body.count)")
                    print("")
                    let headerEnd = QueueCommand.headerEnd(body)
                    print(String(decoding: body[..<headerEnd], as: UTF8.self), terminator: "")
                }
            }
        }
    }

    static func headerEnd(_ body: [UInt8]) -> Int {
        var i = 0
        while i + 3 < body.count {
            if body[i] == 13 && body[i + 1] == 10 && body[i + 2] == 13 && body[i + 3] == 10 { return i + 2 }
            i += 1
        }
        return body.count
    }

    struct Flush: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ask the running node to retry every deferred message now.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await reportingFailures {
                let spool = try QueueCommand.openSpool(global)
                defer { spool.close() }
                try spool.requestFlush()
                print("flush requested for \(spool.queuedIDs().count) queued message(s)")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a message from the queue without delivering it.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The queue id.") var id: String

        func run() async throws {
            try await reportingFailures {
                try QueueCommand.withQueued(id, global) { spool, id in
                    spool.remove(id)
                    print("deleted \(id)")
                }
            }
        }
    }
}
