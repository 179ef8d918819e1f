@testable import API
import Directory
import Foundation
import Testing

/// Data of user A that user B must never see or touch.
struct Victim {
    let user: TestUser
    let aliasID: String
    let recipientID: String
    let usernameID: String
    let domainID: String
    let failedDeliveryID: String

    static func make(on node: APITestNode) async throws -> Victim {
        let user = try await node.makeUser("alice")
        let alias = try #require(try await node.send("POST", "/api/v1/aliases", as: user,
                                                     json: #"{"domain":"relay.test","description":"private"}"#).data("id")?.stringValue)
        let recipient = try #require(try await node.send("POST", "/api/v1/recipients", as: user,
                                                         json: #"{"email":"alice.work@example.com"}"#).data("id")?.stringValue)
        let username = try #require(try await node.send("POST", "/api/v1/usernames", as: user,
                                                        json: #"{"username":"alicework"}"#).data("id")?.stringValue)
        let domain = try #require(try await node.send("POST", "/api/v1/domains", as: user,
                                                      json: #"{"domain":"alice.example"}"#).data("id")?.stringValue)
        let now = Date().atDatabasePrecision
        let failure = Identifier.make()
        try await FailedDeliveries(pool: node.pool).record(FailedDelivery(
            id: failure, userID: user.id, recipientID: nil, recipientEmail: nil, aliasID: alias, aliasEmail: nil,
            bounceType: "hard", remoteMTA: nil, sender: nil, emailType: nil, status: nil, code: "550", attemptedAt: now,
            createdAt: now, updatedAt: now))
        return Victim(user: user, aliasID: alias, recipientID: recipient, usernameID: username, domainID: domain,
                      failedDeliveryID: failure)
    }

    /// A's id of the kind a route works on, by the route's first path segment.
    func id(for path: String) -> String? {
        let segment = path.split(separator: "/").dropFirst(2).first.map(String.init) ?? ""
        switch segment {
        case "aliases", "active-aliases", "alias-recipients": return aliasID
        case "recipients", "recipient-keys", "encrypted-recipients", "inline-encrypted-recipients",
            "protected-headers-recipients", "allowed-recipients": return recipientID
        case "usernames", "active-usernames", "catch-all-usernames", "loginable-usernames": return usernameID
        case "domains", "active-domains", "catch-all-domains": return domainID
        case "failed-deliveries": return failedDeliveryID
        default: return nil
        }
    }

    var all: [String] { [aliasID, recipientID, usernameID, domainID, failedDeliveryID] }
}

@Suite struct SecurityTests {
    @Test func oneUserCanNeitherSeeNorChangeAnothersDataOnAnyRoute() async throws {
        let node = try await APITestNode.start()
        let alice = try await Victim.make(on: node)
        let bob = try await node.makeUser("bob")
        let routes = APIServer.routeList(config: node.config)
        #expect(routes.count >= 40, "\(routes.count) routes")
        let creations: Set<String> = ["POST /api/v1/aliases", "POST /api/v1/recipients", "POST /api/v1/usernames", "POST /api/v1/domains"]
        let ownOnly: Set<String> = ["GET /api/v1/account-details", "GET /api/v1/api-token-details", "GET /api/v1/domain-options",
                                    "GET /api/v1/app-version"]
        for route in routes {
            let parts = route.split(separator: " ", maxSplits: 1).map(String.init)
            let (method, template) = (parts[0], parts[1])
            if creations.contains(route) { continue }  // creates B's own records: covered elsewhere
            let reply: APITestNode.Reply
            if template.contains("{id}") {
                let id = try #require(alice.id(for: template), "no victim id for \(route)")
                let body = template.hasPrefix("/api/v1/recipient-keys") ? #"{"key_data":"x"}"# : #"{"description":"hacked"}"#
                reply = try await node.send(method, template.replacingOccurrences(of: "{id}", with: id), as: bob,
                                            json: method == "PATCH" ? body : nil)
                #expect(reply.status == 404, "\(route) as another user → \(reply.status) \(reply.body)")
            } else if method == "POST" {
                let id = try #require(alice.id(for: template), "no victim id for \(route)")
                let body = template == "/api/v1/alias-recipients" ? #"{"alias_id":"\#(id)","recipient_ids":[]}"#
                    : template == "/api/v1/recipients/email/resend" ? #"{"recipient_id":"\#(id)"}"# : #"{"id":"\#(id)"}"#
                reply = try await node.send(method, template, as: bob, json: body)
                #expect(reply.status == 404, "\(route) on another user's record → \(reply.status) \(reply.body)")
            } else {
                reply = try await node.send(method, template, as: bob)
                #expect(reply.status == 200, "\(route) → \(reply.status)")
                if !ownOnly.contains(route) {
                    for id in alice.all { #expect(!reply.body.contains(id), "\(route) shows another user's record") }
                } else {
                    #expect(!reply.body.contains(alice.user.id), "\(route) shows another user's account")
                }
            }
        }
        // Alice's records are exactly as she left them.
        let alias = try await node.send("GET", "/api/v1/aliases/\(alice.aliasID)", as: alice.user)
        #expect(alias.data("active") == .bool(true) && alias.data("description") == .string("private") && alias.data("deleted_at") == .null)
        #expect(try await node.send("GET", "/api/v1/recipients/\(alice.recipientID)", as: alice.user).status == 200)
        let username = try await node.send("GET", "/api/v1/usernames/\(alice.usernameID)", as: alice.user)
        #expect(username.data("active") == .bool(true) && username.data("catch_all") == .bool(true))
        let domain = try await node.send("GET", "/api/v1/domains/\(alice.domainID)", as: alice.user)
        #expect(domain.data("active") == .bool(true) && domain.data("description") == .null)
        #expect(try await node.send("GET", "/api/v1/failed-deliveries/\(alice.failedDeliveryID)", as: alice.user).status == 200)
        // And B cannot use A's username domain or recipients either.
        #expect(try await node.send("POST", "/api/v1/aliases", as: bob, json: #"{"domain":"alicework.relay.test"}"#).status == 422)
        #expect(try await node.send("POST", "/api/v1/aliases", as: bob,
                                    json: #"{"domain":"relay.test","recipient_ids":["\#(alice.user.defaultRecipientID)"]}"#).status == 422)
        await node.stop()
    }

    @Test func hostileInputIsA4xxNeverA5xx() async throws {
        let node = try await APITestNode.start()
        let alice = try await Victim.make(on: node)
        let routes = APIServer.routeList(config: node.config)
        let freeTextOnly: Set<String> = ["PATCH /api/v1/aliases/{id}", "PATCH /api/v1/usernames/{id}", "PATCH /api/v1/domains/{id}"]
        let sqlish = "'; DROP TABLE aliases; -- \\\" OR 1=1 /* ` %_"
        let bodies: [(String, [UInt8])] = [
            ("malformed JSON", Array(#"{"domain": "relay.test", "#.utf8)),
            ("invalid UTF-8", [0x7b, 0x22, 0x64, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0xff, 0x22, 0x7d]),
            ("a JSON array", Array(#"["relay.test"]"#.utf8)),
            ("a JSON string", Array(#""relay.test""#.utf8)),
            ("wrong types", Array(#"{"domain":5,"description":[],"format":{},"local_part":true,"recipient_ids":"x","id":7,"alias_id":[1],"email":false,"username":1.5,"key_data":null,"from_name":{"a":1}}"#.utf8)),
            ("oversized fields", Array(("{\"domain\":\"" + String(repeating: "a", count: 5000) + "\",\"description\":\"" + String(repeating: "d", count: 5000)
                                         + "\",\"email\":\"" + String(repeating: "e", count: 5000) + "@x.example\",\"username\":\"" + String(repeating: "u", count: 5000)
                                         + "\",\"id\":\"" + String(repeating: "i", count: 5000) + "\"}").utf8)),
            ("SQL metacharacters", Array(String(decoding: JSONValue.object([
                ("domain", .string(sqlish)), ("description", .string(sqlish)), ("format", .string(sqlish)),
                ("local_part", .string(sqlish)), ("id", .string(sqlish)), ("alias_id", .string(sqlish)),
                ("email", .string(sqlish)), ("username", .string(sqlish)), ("recipient_ids", .array([.string(sqlish)])),
                ("key_data", .string(sqlish)),
            ]).serialized, as: UTF8.self).utf8)),
            ("a body over the size limit", Array(("{\"description\":\"" + String(repeating: "z", count: 300_000) + "\"}").utf8)),
        ]
        for route in routes {
            let parts = route.split(separator: " ", maxSplits: 1).map(String.init)
            let (method, template) = (parts[0], parts[1])
            guard method == "POST" || method == "PATCH" else { continue }
            let path = template.replacingOccurrences(of: "{id}", with: alice.id(for: template) ?? "x")
            for (what, body) in bodies {
                let reply = try await node.request(method, path, token: alice.user.token, body: body)
                if what == "SQL metacharacters", freeTextOnly.contains(route), (200..<300).contains(reply.status) {
                    // Only free text (description, from_name) is read here: it must be stored literally.
                    #expect(reply.data("description") == .string(sqlish), "\(route) did not store the text as given")
                    continue
                }
                #expect((400..<500).contains(reply.status), "\(route) with \(what) → \(reply.status) \(reply.body.prefix(200))")
                #expect(reply.json?["message"] != nil, "\(route) with \(what): no JSON message: \(reply.body.prefix(200))")
            }
        }
        // Hostile ids and query strings on every route are answered, not crashed on.
        for route in routes {
            let parts = route.split(separator: " ", maxSplits: 1).map(String.init)
            let encoded = sqlish.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "x"
            let path = parts[1].replacingOccurrences(of: "{id}", with: encoded)
            let reply = try await node.request(parts[0], path + "?sort=" + encoded + "&filter%5Bsearch%5D=" + encoded,
                                               token: alice.user.token)
            #expect(reply.status < 500, "\(route) with hostile id/query → \(reply.status)")
        }
        // The search finds the stored text literally (the description now holds it) and nothing else.
        let search = try await node.send("GET", "/api/v1/aliases?filter%5Bsearch%5D=%27%3B%20DROP%20TABLE%20aliases%3B", as: alice.user)
        #expect(search.status == 200 && search.data?.arrayValue?.count == 1)
        let wildcard = try await node.send("GET", "/api/v1/aliases?filter%5Bsearch%5D=%25%25%25", as: alice.user)
        #expect(wildcard.status == 200 && wildcard.data?.arrayValue?.count == 0, "% is matched literally")
        let longID = try await node.send("GET", "/api/v1/aliases/" + String(repeating: "9", count: 500), as: alice.user)
        #expect(longID.status == 404)
        // Everything is still there.
        #expect(try await node.send("GET", "/api/v1/aliases/\(alice.aliasID)", as: alice.user).data("description") == .string(sqlish))
        #expect(try await node.pool.query("SELECT COUNT(*) AS n FROM aliases").first?.int("n") == 1)
        await node.stop()
    }

    @Test func missingWrongExpiredAndRevokedTokensAre401() async throws {
        let node = try await APITestNode.start()
        let jane = try await node.makeUser("jane")
        let (_, expired) = try await APITokens(pool: node.pool).create(userID: jane.id, label: "old", expiresAt: Date(timeIntervalSinceNow: -60))
        let (revokedRecord, revoked) = try await APITokens(pool: node.pool).create(userID: jane.id, label: "gone")
        try await APITokens(pool: node.pool).revoke(id: revokedRecord.id)
        let cases: [(String, [String: String])] = [
            ("no header", [:]), ("empty bearer", ["Authorization": "Bearer "]), ("basic auth", ["Authorization": "Basic amFuZTpwdw=="]),
            ("wrong token", ["Authorization": "Bearer " + String(repeating: "A", count: 40)]),
            ("expired token", ["Authorization": "Bearer " + expired]), ("revoked token", ["Authorization": "Bearer " + revoked]),
            ("huge token", ["Authorization": "Bearer " + String(repeating: "x", count: 5000)]),
        ]
        for (what, headers) in cases {
            for path in ["/api/v1/aliases", "/api/v1/account-details", "/api/v1/aliases/whatever"] {
                let reply = try await node.request("GET", path, headers: headers)
                #expect(reply.status == 401, "\(what) on \(path) → \(reply.status)")
                #expect(reply.json?["message"] == .string("Unauthenticated."), "\(what)")
            }
        }
        let good = try await node.request("GET", "/api/v1/aliases", headers: ["Authorization": "bearer " + jane.token])
        #expect(good.status == 200, "the scheme name is case-insensitive")
        #expect(good.headers["cache-control"] == "no-store")
        #expect(try await node.request("GET", "/api/v1/aliases").headers["cache-control"] == "no-store")
        let unknownRoute = try await node.send("GET", "/api/v1/no-such-thing", as: jane)
        #expect(unknownRoute.status == 404)
        await node.stop()
    }

    @Test func eachTokenIsLimitedPerMinuteWith429AndRetryAfter() async throws {
        let node = try await APITestNode.start(rateLimit: 5)
        let jane = try await node.makeUser("jane")
        let bob = try await node.makeUser("bob")
        for _ in 0..<5 { #expect(try await node.send("GET", "/api/v1/aliases", as: jane).status == 200) }
        let limited = try await node.send("GET", "/api/v1/aliases", as: jane)
        #expect(limited.status == 429)
        #expect(limited.json?["message"] == .string("Too Many Attempts."))
        let retryAfter = try #require(limited.headers["retry-after"].flatMap { Int($0) })
        #expect((1...60).contains(retryAfter))
        #expect(try await node.send("GET", "/api/v1/aliases", as: bob).status == 200, "another token has its own budget")
        await node.stop()
    }
}
