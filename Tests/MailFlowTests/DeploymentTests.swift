import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Storage
import TestSupport
import Testing

/// The Ansible deployment (ansible/), run for real with a local connection into a temporary root:
/// syntax check, ansible-lint, two runs (the second changes nothing), `postern config check` of both
/// rendered configurations, and then the two nodes started from them forward a message.
@Suite(.serialized) struct DeploymentTests {
    @Test func theAnsibleRoleDeploysTwoNodesThatForwardMail() async throws {
        // A database with a user, and a sink for the nodes' deliveries (this node's server is not started).
        let lab = try await MailTestNode(name: "lab")
        defer { lab.shutdown() }
        try await lab.startSink()
        let work = lab.folder + "/deploy"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let (status, output) = try await MailTestNode.run("python3", [
            MailTestNode.tool("ansible_local_run.py"), work, try PosternProcess.executable().path,
            PosternProcess.databaseURLText(lab.database), "--relay-host", "127.0.0.1:\(lab.sinkPort)",
        ])
        #expect(status == 0, "\(output)")
        let summary = try #require(output.split(separator: "\n").last.flatMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: [String: Any]]
        }, "\(output)")
        let nodes = try ["mx1", "mx2"].map { name in
            let node = try #require(summary[name], "\(output)")
            return (config: try #require(node["config"] as? String), smtp: try #require(node["smtp_port"] as? Int),
                    api: try #require(node["api_port"] as? Int))
        }
        // The installed binary, as the unit would run it.
        let installed = work + "/mx1/usr/local/bin/postern"
        #expect(FileManager.default.isExecutableFile(atPath: installed))

        var servers: [Process] = []
        defer { for server in servers where server.isRunning { kill(server.processIdentifier, SIGTERM) } }
        for node in nodes {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: installed)
            process.arguments = ["serve", "--config", node.config]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            process.standardInput = FileHandle.nullDevice
            try process.run()
            servers.append(process)
            try await MailTestNode.waitForPort(UInt16(node.smtp))
            try await MailTestNode.waitForPort(UInt16(node.api))
        }
        // The alias through mx1's API; the message through mx2.
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(nodes[0].api)/api/v1/aliases")!)
        request.httpMethod = "POST"
        request.setValue("Bearer \(lab.token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(#"{"domain":"relay.test","format":"custom","local_part":"deployed"}"#.utf8)
        let (_, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 201)
        let (sent, swaks) = try await MailTestNode.run("swaks", [
            "--server", "127.0.0.1:\(nodes[1].smtp)", "--from", "bob@sender.test", "--to", "deployed@relay.test",
            "--header", "Subject: deployed by ansible",
        ])
        #expect(sent == 0, "\(swaks)")
        #expect(await lab.waitUntil { lab.received().contains { $0.message.contains("Subject: deployed by ansible") } })
        let signed = lab.received().first { $0.message.contains("Subject: deployed by ansible") }?.message ?? ""
        #expect(signed.hasPrefix("DKIM-Signature:"), "signed with the key the role installed")
    }
}
