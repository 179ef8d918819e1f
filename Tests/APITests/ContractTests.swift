@testable import API
import Foundation
import Testing
import Yams
import TestSupport

/// docs/openapi.yaml against the server: every route is documented, every documented operation exists,
/// and what the server answers conforms to the document (checked by schemathesis).
@Suite struct ContractTests {
    static let document = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/openapi.yaml")

    /// `METHOD /path` for every operation in the document (path items may be `$ref`s to components).
    static func documentedOperations() throws -> Set<String> {
        let text = try String(contentsOf: document, encoding: .utf8)
        guard let root = try Yams.load(yaml: text) as? [String: Any], let paths = root["paths"] as? [String: Any],
            let components = root["components"] as? [String: Any]
        else { throw CocoaError(.fileReadCorruptFile) }
        let pathItems = components["pathItems"] as? [String: Any] ?? [:]
        var operations: Set<String> = []
        for (path, value) in paths {
            guard var item = value as? [String: Any] else { continue }
            if let ref = item["$ref"] as? String, let resolved = pathItems[String(ref.split(separator: "/").last!)] as? [String: Any] {
                item = resolved
            }
            for method in ["get", "post", "put", "patch", "delete"] where item[method] != nil {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        return operations
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedOperationExists() async throws {
        let node = try await APITestNode.start()
        let served = Set(APIServer.routeList(config: node.config))
        let documented = try Self.documentedOperations()
        #expect(served.subtracting(documented).sorted() == [], "served but not in docs/openapi.yaml")
        #expect(documented.subtracting(served).sorted() == [], "in docs/openapi.yaml but not served")
        #expect(served.count == APIServer.routeList(config: node.config).count, "a route is registered twice")
        await node.stop()
    }

    @Test func theServerAnswersAsTheDocumentSays() async throws {
        let node = try await APITestNode.start()
        let jane = try await node.makeUser("jane")
        let schemathesis = ["/usr/local/bin/schemathesis", "/root/.pyenv/shims/schemathesis"]
            .first { FileManager.default.isExecutableFile(atPath: $0) }
            ?? (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
                .map { "\($0)/schemathesis" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        let executable = try #require(schemathesis, "schemathesis not found: `pip install schemathesis` (scripts/setup does)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "run", Self.document.path, "--url", node.base, "-H", "Authorization: Bearer \(jane.token)",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-time", "90", "--workers", "1", "--seed", "20261123",
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["NO_COLOR"] = "1"
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = try await offPool { String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
        while process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        #expect(process.terminationStatus == 0, "schemathesis found differences:\n\(text.suffix(6000))")
        #expect(text.contains("passed"), "\(text.suffix(2000))")
        await node.stop()
    }
}
