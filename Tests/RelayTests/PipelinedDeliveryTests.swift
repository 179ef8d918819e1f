import Foundation
import SMTPCore
import Synchronization
import Testing
import TestSupport

@testable import SMTPClient

/// The client against Postfix's smtp-sink, which offers PIPELINING: the envelope goes as one group and
/// the body follows the 354 without the task waiting in between, so what the next hop does after the
/// 354 (take the body, hang up, answer 421) must still reach each recipient's outcome.
@Suite(.serialized) struct PipelinedDeliveryTests {
    /// smtp-sink on a free port with `options`, writing each message to `folder`.
    final class Sink: Sendable {
        let port: UInt16
        let folder = NSTemporaryDirectory() + "postern-pipelined-" + UUID().uuidString
        private let process = Mutex<Process?>(nil)

        init(_ options: [String]) async throws {
            port = try FreePort.find()
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            // smtp-sink writes its dumps as `nobody`.
            chmod(folder, 0o777)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/smtp-sink")
            process.arguments = ["-u", "nobody", "-d", folder + "/%M."] + options + ["127.0.0.1:\(port)", "10"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            self.process.withLock { $0 = process }
            try await MailTestNode.waitForPort(port, seconds: 20)
        }

        func connect() async throws -> SMTPClientConnection {
            try await SMTPClientConnection.open(host: "127.0.0.1", port: Int(port), heloName: "relay.test", tls: nil,
                                                timeout: .seconds(10))
        }

        /// The messages it received, with their line ends as LF (smtp-sink's dump format).
        func messages() -> [String] {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
            return names.compactMap { try? String(contentsOfFile: folder + "/" + $0, encoding: .utf8) }
        }

        func stop() {
            process.withLock { $0?.terminate() }
            try? FileManager.default.removeItem(atPath: folder)
        }
    }

    let body = Array("Subject: pipelined\r\n\r\n.a line that starts with a dot\r\nthe end\r\n".utf8)

    func transaction(to recipients: [String]) -> SMTPClientTransaction {
        SMTPClientTransaction(sender: "SRS0=abcd=XY=sender.test=someone@relay.test", recipients: recipients, body: body,
                              needsSMTPUTF8: false)
    }

    @Test func theBodyFollowsThe354AndTheConnectionServesTheNextMessage() async throws {
        let sink = try await Sink([])
        defer { sink.stop() }
        let connection = try await sink.connect()
        #expect(connection.capabilities.pipelining)
        for round in 1...2 {
            let outcomes = await connection.send(transaction(to: ["a@dest.test", "b@dest.test"]))
            #expect(outcomes.count == 2)
            for outcome in outcomes {
                guard case .delivered(let reply) = outcome else {
                    Issue.record("round \(round): \(outcome)")
                    continue
                }
                #expect(reply.code == 250)
            }
        }
        await connection.close()
        var received: [String] = []
        for _ in 0..<50 where received.count < 2 {
            try await Task.sleep(for: .milliseconds(100))
            received = sink.messages()
        }
        #expect(received.count == 2)
        for message in received {
            #expect(message.contains("X-Rcpt-Args: <a@dest.test>") && message.contains("X-Rcpt-Args: <b@dest.test>"))
            // Dot-stuffed on the wire, whole again at the other end.
            #expect(message.contains("\n.a line that starts with a dot\nthe end\n"))
        }
    }

    @Test func aNextHopThatHangsUpAfterTheBodyLeavesEveryRecipientDeferred() async throws {
        let sink = try await Sink(["-q", "."])
        defer { sink.stop() }
        let connection = try await sink.connect()
        let outcomes = await connection.send(transaction(to: ["a@dest.test", "b@dest.test"]))
        #expect(outcomes.count == 2)
        for outcome in outcomes {
            guard case .deferred(let reply) = outcome else {
                Issue.record("expected deferred, got \(outcome)")
                continue
            }
            #expect(reply.code == 451)
        }
        #expect(!connection.isActive)
    }

    @Test func a421ToTheBodyIsEachRecipientsTemporaryFailure() async throws {
        let sink = try await Sink(["-Q", "."])
        defer { sink.stop() }
        let connection = try await sink.connect()
        let outcomes = await connection.send(transaction(to: ["a@dest.test"]))
        #expect(outcomes.count == 1)
        guard case .deferred(let reply) = outcomes.first else {
            Issue.record("expected deferred, got \(outcomes)")
            return
        }
        #expect(reply.code == 421)
    }
}
