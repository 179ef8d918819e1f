@testable import API
import Directory
import Foundation
import Hummingbird
import Logging
import MailCore
import PosternConfig
import ServiceLifecycle
import Storage
import TestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A live API server on a loopback port, over its own freshly migrated database.
struct APITestNode: Sendable {
    let base: String
    let pool: ConnectionPool
    let config: NodeConfig
    let group: ServiceGroup
    let server: Task<Void, any Error>

    static let migrations = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("migrations")

    static func start(rateLimit: Int = 0) async throws -> APITestNode {
        let url = try await TestDatabase.makeDatabase()
        let port = try FreePort.find()
        let config = try ConfigLoader.parse(yaml: """
            node: { name: apitest }
            database: { url: "\(PosternProcess.databaseURLText(url))" }
            smtp: { listen: "127.0.0.1:\(try FreePort.find())" }
            api: { listen: "127.0.0.1:\(port)", rate_limit: \(rateLimit) }
            domains: { root: relay.test, shared: [relay.test, other-shared.test] }
            srs: { secrets: [s] }
            """, environment: [:])
        let pool = ConnectionPool(options: config.database.connectionOptions, maxConnections: 20)
        _ = try await Migrator(pool: pool).run(try Migration.load(from: migrations))
        let logger = Logger(label: "apitest")
        let app = APIServer.application(pool: pool, config: config, logger: logger)
        let group = ServiceGroup(services: [app], logger: logger)
        let server = Task { try await group.run() }
        let node = APITestNode(base: "http://127.0.0.1:\(port)", pool: pool, config: config, group: group, server: server)
        try await node.waitUntilListening()
        return node
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await server.result
        await pool.close()
    }

    private func waitUntilListening() async throws {
        for _ in 0..<200 {
            if (try? await request("GET", "/api/v1/app-version")) != nil { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        Issue.record("the API did not start listening at \(base)")
    }

    /// A user with a verified default recipient and a token.
    func makeUser(_ name: String) async throws -> TestUser {
        let (user, recipient) = try await Accounts(pool: pool).createUser(
            username: name, recipient: try EmailAddress(parsing: "\(name)@example.com"))
        let (token, secret) = try await APITokens(pool: pool).create(userID: user.id, label: "tests")
        return TestUser(id: user.id, username: user.username, token: secret, tokenID: token.id, defaultRecipientID: recipient.id)
    }

    struct Reply: Sendable {
        let status: Int
        let json: JSONValue?
        let headers: [String: String]
        let body: String

        var data: JSONValue? { json?["data"] }

        /// Whether `keys` appear in the raw body in this order (parsed JSON does not keep key order).
        func keysAppearInOrder(_ keys: [String]) -> Bool {
            var from = body.startIndex
            for key in keys {
                guard let found = body.range(of: "\"" + key + "\":", range: from..<body.endIndex) else { return false }
                from = found.upperBound
            }
            return true
        }
        func data(_ key: String) -> JSONValue? { json?["data"]?[key] }
    }

    /// A client that never answers from a cache (the shared session's cache ignores Authorization).
    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalAndRemoteCacheData
        configuration.httpShouldSetCookies = false
        return URLSession(configuration: configuration)
    }()

    /// Sends a request; `body` is raw bytes so tests can send anything at all.
    func request(
        _ method: String, _ path: String, token: String? = nil, body: [UInt8]? = nil,
        headers: [String: String] = [:]
    ) async throws -> Reply {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let token { request.setValue("Bearer " + token, forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = Data(body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await Self.session.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (name, value) in http.allHeaderFields { fields[String(describing: name).lowercased()] = String(describing: value) }
        return Reply(
            status: http.statusCode, json: data.isEmpty ? nil : JSONValue.parse(Array(data)), headers: fields,
            body: String(decoding: data, as: UTF8.self))
    }

    func send(_ method: String, _ path: String, as user: TestUser, json: String? = nil) async throws -> Reply {
        try await request(method, path, token: user.token, body: json.map { Array($0.utf8) })
    }
}

struct TestUser: Sendable {
    let id: String
    let username: String
    let token: String
    let tokenID: String
    let defaultRecipientID: String
}

extension JSONValue {
    var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    var intValue: Int64? { if case .int(let i) = self { i } else { nil } }
    var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    var keys: [String] { if case .object(let members) = self { members.map(\.0) } else { [] } }
}
