import ArgumentParser
import Cluster
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

    static let timeFormat: DateFormatter = {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss'Z'"
        return f
    }()

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One line per queued message (this node's, then the shared deferred queue's): id, arrival, size, sender, recipients left, attempts, next try.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await reportingFailures {
                let config = try global.loadConfig()
                let spool = try QueueCommand.openSpool(global)
                defer { spool.close() }
                var local = 0
                for (message, body) in spool.loadAll() {
                    QueueCommand.printLine(message, body: body, progress: spool.progress(of: message.id), place: "")
                    local += 1
                }
                var shared = 0
                do {
                    try await global.withPool(config) { pool in
                        for (item, from) in try await SharedDeferredQueue(pool: pool, node: config.node.name).all() {
                            QueueCommand.printLine(item.message, body: item.body, progress: item.progress, place: "  shared (from \(from))")
                            shared += 1
                        }
                    }
                } catch {
                    printError("postern: the shared deferred queue could not be read: \(describe(error))")
                }
                let total = local + shared
                print("\(total) message\(total == 1 ? "" : "s") queued (\(local) on this node, \(shared) in the shared deferred queue)")
            }
        }
    }

    static func printLine(_ message: SpooledMessage, body: [UInt8], progress: DeliveryProgress?, place: String) {
        let left = message.deliveries.indices.filter { !(progress?.finished.contains($0) ?? false) }
            .map { message.deliveries[$0].recipient }
        let next = progress.map { timeFormat.string(from: $0.nextAttemptAt) } ?? "now"
        print("\(message.id)  \(timeFormat.string(from: message.receivedAt))  \(body.count)  "
            + "<\(message.sender ?? "")>  \(left.joined(separator: ","))  attempts=\(progress?.attempts ?? 0)  next=\(next)\(place)")
    }

    /// Finds the message `text` names, on this node's spool or in the shared deferred queue.
    static func find(_ text: String, _ global: GlobalOptions, config: NodeConfig) async throws
        -> (spool: Spool?, message: SpooledMessage, body: [UInt8], progress: DeliveryProgress?, place: String)
    {
        guard let id = QueueID(text.uppercased()) else { throw CLIFailure("'\(text)' is not a queue id (18 hex digits)") }
        let spool = try openSpool(global)
        if spool.contains(id) {
            let (message, body) = try spool.load(id)
            let place = spool.isInFirstAttempt(id) ? "this node's spool (first attempt under way)" : "this node's spool"
            return (spool, message, body, spool.progress(of: id), place)
        }
        spool.close()
        var found: (SharedDeferredQueue.Item, String)?
        try await global.withPool(config) { pool in
            found = try await SharedDeferredQueue(pool: pool, node: config.node.name).item(id)
        }
        guard let (item, from) = found else { throw CLIFailure("no message \(id) in the queue") }
        return (nil, item.message, item.body, item.progress, "the shared deferred queue (from \(from))")
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A queued message: its envelope, progress, and headers.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The queue id.") var id: String

        func run() async throws {
            try await reportingFailures {
                let (spool, message, body, progress, place) = try await QueueCommand.find(id, global, config: try global.loadConfig())
                spool?.close()
                print("id: \(message.id)")
                print("in: \(place)")
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

    static func headerEnd(_ body: [UInt8]) -> Int {
        var i = 0
        while i + 3 < body.count {
            if body[i] == 13 && body[i + 1] == 10 && body[i + 2] == 13 && body[i + 3] == 10 { return i + 2 }
            i += 1
        }
        return body.count
    }

    struct Flush: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Retry every deferred message now: this node's, and the shared deferred queue's (on the active node).")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await reportingFailures {
                let config = try global.loadConfig()
                let spool = try QueueCommand.openSpool(global)
                defer { spool.close() }
                try spool.requestFlush()
                var shared = 0
                try await global.withPool(config) { pool in
                    shared = try await SharedDeferredQueue(pool: pool, node: config.node.name).makeAllDue()
                }
                print("flush requested for \(spool.queuedIDs().count) queued message(s) here and \(shared) in the shared deferred queue")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a message from the queue without delivering it.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The queue id.") var id: String

        func run() async throws {
            try await reportingFailures {
                let config = try global.loadConfig()
                let (spool, message, _, _, _) = try await QueueCommand.find(id, global, config: config)
                if let spool {
                    defer { spool.close() }
                    guard !spool.isInFirstAttempt(message.id) else {
                        throw CLIFailure("\(message.id) was accepted moments ago and is being delivered now; try again once its first attempt is over")
                    }
                    spool.remove(message.id)
                } else {
                    var deleted = false
                    try await global.withPool(config) { pool in
                        deleted = try await SharedDeferredQueue(pool: pool, node: config.node.name).delete(message.id)
                    }
                    guard deleted else { throw CLIFailure("\(message.id) is being taken by the active node right now; try again") }
                }
                print("deleted \(message.id)")
            }
        }
    }
}
