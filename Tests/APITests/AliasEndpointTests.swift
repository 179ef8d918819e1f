@testable import API
import Directory
import Foundation
import Testing

@Suite struct AliasEndpointTests {
    @Test func theRequestAnAddyClientSendsCreatesAnAliasOnThatDomain() async throws {
        let node = try await APITestNode.start()
        let jane = try await node.makeUser("jane")
        let reply = try await node.request(
            "POST", "/api/v1/aliases", token: jane.token,
            body: Array(#"{"domain": "relay.test", "description": "newsletter", "format": "random_words"}"#.utf8),
            headers: ["Content-Type": "application/json", "Accept": "application/json", "X-Requested-With": "XMLHttpRequest"])
        #expect(reply.status == 201, "\(reply.body)")
        let email = try #require(reply.data("email")?.stringValue)
        #expect(email.hasSuffix("@relay.test"))
        #expect(reply.data("domain") == .string("relay.test"))
        #expect(reply.data("description") == .string("newsletter"))
        #expect(reply.data("active") == .bool(true))
        let localPart = try #require(reply.data("local_part")?.stringValue)
        #expect(email == localPart + "@relay.test")
        #expect(localPart.range(of: #"^[a-z]+\.[a-z]+[0-9]{1,3}$"#, options: .regularExpression) != nil, "\(localPart)")
        let expectedFields = [
            "id", "user_id", "aliasable_id", "aliasable_type", "local_part", "extension", "domain", "email", "active",
            "description", "from_name", "banner_location", "attached_recipients_only", "emails_forwarded", "emails_blocked",
            "emails_replied", "emails_sent", "recipients", "last_forwarded", "last_blocked", "last_replied",
            "last_sent", "created_at", "updated_at", "deleted_at",
        ]
        #expect(Set(reply.data?.keys ?? []) == Set(expectedFields))
        #expect(reply.keysAppearInOrder(expectedFields), "\(reply.body)")
        #expect(reply.data("deleted_at") == .null)
        let created = try #require(reply.data("created_at")?.stringValue)
        #expect(created.range(of: #"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"#, options: .regularExpression) != nil)
        let id = try #require(reply.data("id")?.stringValue)
        let fetched = try await node.send("GET", "/api/v1/aliases/\(id)", as: jane)
        #expect(fetched.status == 200)
        #expect(fetched.data("email") == .string(email))
        await node.stop()
    }

    @Test func everyFormatAndDomainKind() async throws {
        let node = try await APITestNode.start()
        let jane = try await node.makeUser("jane")
        let chars = try await node.send("POST", "/api/v1/aliases", as: jane, json: #"{"domain":"relay.test"}"#)
        #expect(chars.status == 201)
        let charsLocal = try #require(chars.data("local_part")?.stringValue)
        #expect(charsLocal.range(of: "^[0-9a-z]{8}$", options: .regularExpression) != nil, "\(charsLocal)")

        let uuid = try await node.send("POST", "/api/v1/aliases", as: jane, json: #"{"domain":"relay.test","format":"uuid"}"#)
        #expect(uuid.status == 201)
        #expect(uuid.data("local_part") == uuid.data("id"))

        let custom = try await node.send(
            "POST", "/api/v1/aliases", as: jane, json: #"{"domain":"other-shared.test","format":"custom","local_part":"Shop.Online"}"#)
        #expect(custom.status == 201, "\(custom.body)")
        #expect(custom.data("email") == .string("shop.online@other-shared.test"))

        let again = try await node.send(
            "POST", "/api/v1/aliases", as: jane, json: #"{"domain":"other-shared.test","format":"custom","local_part":"shop.online"}"#)
        #expect(again.status == 422)
        #expect(again.json?["errors"]?["local_part"] != nil)

        let onUsername = try await node.send("POST", "/api/v1/aliases", as: jane, json: #"{"domain":"jane.relay.test"}"#)
        #expect(onUsername.status == 201, "\(onUsername.body)")
        #expect(onUsername.data("aliasable_type") == .string("App\\Models\\Username"))
        #expect(onUsername.data("aliasable_id")?.stringValue != nil)

        for (body, field) in [
            (#"{"domain":"bob.relay.test"}"#, "domain"),  // another user's username domain
            (#"{"domain":"elsewhere.example"}"#, "domain"),
            (#"{}"#, "domain"),
            (#"{"domain":"relay.test","format":"custom"}"#, "local_part"),
            (#"{"domain":"relay.test","format":"custom","local_part":"postmaster"}"#, "local_part"),
            (#"{"domain":"relay.test","format":"custom","local_part":"a+b"}"#, "local_part"),
            (#"{"domain":"relay.test","format":"emoji"}"#, "format"),
            (#"{"domain":"relay.test","description":"\#(String(repeating: "x", count: 201))"}"#, "description"),
            (#"{"domain":"relay.test","recipient_ids":["a","b","c","d","e","f","g","h","i","j","k"]}"#, "recipient_ids"),
            (#"{"domain":"relay.test","recipient_ids":["no-such-recipient"]}"#, "recipient_ids"),
        ] {
            let reply = try await node.send("POST", "/api/v1/aliases", as: jane, json: body)
            #expect(reply.status == 422, "\(body) → \(reply.status) \(reply.body)")
            #expect(reply.json?["errors"]?[field] != nil, "\(body) → \(reply.body)")
            #expect(reply.json?["message"]?.stringValue?.isEmpty == false)
        }
        await node.stop()
    }

    @Test func listsFilterSortAndPaginateLikeAddy() async throws {
        let node = try await APITestNode.start()
        let jane = try await node.makeUser("jane")
        var ids: [String] = []
        for name in ["delta", "alpha", "echo", "charlie", "bravo"] {
            let reply = try await node.send(
                "POST", "/api/v1/aliases", as: jane,
                json: #"{"domain":"relay.test","format":"custom","local_part":"\#(name)","description":"about \#(name)"}"#)
            ids.append(try #require(reply.data("id")?.stringValue))
        }
        let page = try await node.send("GET", "/api/v1/aliases?page%5Bsize%5D=2&page%5Bnumber%5D=2&sort=local_part", as: jane)
        #expect(page.status == 200)
        #expect(page.data?.arrayValue?.compactMap { $0["local_part"]?.stringValue } == ["charlie", "delta"])
        #expect(page.json?["meta"]?["total"] == .int(5))
        #expect(page.json?["meta"]?["last_page"] == .int(3))
        #expect(page.json?["meta"]?["current_page"] == .int(2))
        #expect(page.json?["meta"]?["from"] == .int(3))
        #expect(page.json?["meta"]?["to"] == .int(4))
        #expect(page.json?["meta"]?["per_page"] == .int(2))
        #expect(page.json?["links"]?["next"]?.stringValue?.contains("page%5Bnumber%5D=3") == true)
        #expect(page.json?["links"]?["prev"]?.stringValue?.contains("page%5Bnumber%5D=1") == true)
        #expect(page.keysAppearInOrder(["data", "links", "first", "last", "prev", "next", "meta", "current_page", "from", "last_page", "links", "path", "per_page", "to", "total"]))

        let descending = try await node.send("GET", "/api/v1/aliases?sort=-email&page[size]=100", as: jane)
        #expect(descending.data?.arrayValue?.compactMap { $0["local_part"]?.stringValue } == ["echo", "delta", "charlie", "bravo", "alpha"])

        let search = try await node.send("GET", "/api/v1/aliases?filter%5Bsearch%5D=about+ec", as: jane)
        #expect(search.data?.arrayValue?.count == 1)
        // What the addy.io browser extension sends: empty filters are no filters.
        let fromExtension = try await node.send(
            "GET", "/api/v1/aliases?filter[deleted]=with&filter[active]=&filter[search]=&sort=-created_at&page[number]=1&page[size]=10",
            as: jane)
        #expect(fromExtension.status == 200)
        #expect(fromExtension.json?["meta"]?["total"] == .int(5))

        #expect(try await node.send("DELETE", "/api/v1/active-aliases/\(ids[0])", as: jane).status == 204)
        #expect(try await node.send("DELETE", "/api/v1/aliases/\(ids[1])", as: jane).status == 204)
        let inactive = try await node.send("GET", "/api/v1/aliases?filter[active]=false", as: jane)
        #expect(inactive.data?.arrayValue?.compactMap { $0["id"]?.stringValue } == [ids[0]])
        let without = try await node.send("GET", "/api/v1/aliases", as: jane)
        #expect(without.json?["meta"]?["total"] == .int(4))
        let with = try await node.send("GET", "/api/v1/aliases?filter[deleted]=with", as: jane)
        #expect(with.json?["meta"]?["total"] == .int(5))
        let only = try await node.send("GET", "/api/v1/aliases?filter[deleted]=only", as: jane)
        #expect(only.data?.arrayValue?.compactMap { $0["id"]?.stringValue } == [ids[1]])

        for bad in ["sort=password", "sort=-", "page[size]=0", "page[size]=101", "page[number]=x", "filter[deleted]=maybe",
                    "filter[active]=perhaps", "filter[search]=" + String(repeating: "s", count: 51), "filter[search]=ab"] {
            let reply = try await node.send("GET", "/api/v1/aliases?" + bad, as: jane)
            #expect(reply.status == 422, "\(bad) → \(reply.status)")
        }
        await node.stop()
    }

    @Test func updateDeactivateDeleteRestoreForget() async throws {
        let node = try await APITestNode.start()
        let jane = try await node.makeUser("jane")
        let id = try #require(try await node.send("POST", "/api/v1/aliases", as: jane, json: #"{"domain":"relay.test"}"#).data("id")?.stringValue)

        let patched = try await node.send("PATCH", "/api/v1/aliases/\(id)", as: jane, json: #"{"description":"bank","from_name":"Jane D"}"#)
        #expect(patched.status == 200)
        #expect(patched.data("description") == .string("bank"))
        #expect(patched.data("from_name") == .string("Jane D"))
        let cleared = try await node.send("PATCH", "/api/v1/aliases/\(id)", as: jane, json: #"{"description":null}"#)
        #expect(cleared.data("description") == .null)
        #expect(cleared.data("from_name") == .string("Jane D"))

        #expect(try await node.send("DELETE", "/api/v1/active-aliases/\(id)", as: jane).status == 204)
        #expect(try await node.send("GET", "/api/v1/aliases/\(id)", as: jane).data("active") == .bool(false))
        let activated = try await node.send("POST", "/api/v1/active-aliases", as: jane, json: #"{"id":"\#(id)"}"#)
        #expect(activated.status == 200)
        #expect(activated.data("active") == .bool(true))

        #expect(try await node.send("DELETE", "/api/v1/aliases/\(id)", as: jane).status == 204)
        let deleted = try await node.send("GET", "/api/v1/aliases/\(id)", as: jane)
        #expect(deleted.data("deleted_at")?.stringValue != nil)
        #expect(deleted.data("active") == .bool(false))
        #expect(try await node.send("POST", "/api/v1/active-aliases", as: jane, json: #"{"id":"\#(id)"}"#).status == 422)
        let restored = try await node.send("PATCH", "/api/v1/aliases/\(id)/restore", as: jane)
        #expect(restored.status == 200)
        #expect(restored.data("deleted_at") == .null)
        #expect(restored.data("active") == .bool(true))
        #expect(try await node.send("PATCH", "/api/v1/aliases/\(id)/restore", as: jane).status == 404)

        #expect(try await node.send("DELETE", "/api/v1/aliases/\(id)/forget", as: jane).status == 204)
        #expect(try await node.send("GET", "/api/v1/aliases/\(id)", as: jane).status == 404)
        await node.stop()
    }

    @Test func aliasRecipientsMustBeTheUsersVerifiedRecipients() async throws {
        let node = try await APITestNode.start()
        let jane = try await node.makeUser("jane")
        let bob = try await node.makeUser("bob")
        let id = try #require(try await node.send("POST", "/api/v1/aliases", as: jane, json: #"{"domain":"relay.test"}"#).data("id")?.stringValue)
        let added = try await node.send("POST", "/api/v1/recipients", as: jane, json: #"{"email":"work@example.com"}"#)
        let unverified = try #require(added.data("id")?.stringValue)

        let refused = try await node.send("POST", "/api/v1/alias-recipients", as: jane,
                                          json: #"{"alias_id":"\#(id)","recipient_ids":["\#(unverified)"]}"#)
        #expect(refused.status == 422)
        let foreign = try await node.send("POST", "/api/v1/alias-recipients", as: jane,
                                          json: #"{"alias_id":"\#(id)","recipient_ids":["\#(bob.defaultRecipientID)"]}"#)
        #expect(foreign.status == 422)

        try await node.pool.execute("UPDATE recipients SET email_verified_at = NOW() WHERE id = ?", [.text(unverified)])
        let attached = try await node.send("POST", "/api/v1/alias-recipients", as: jane,
                                           json: #"{"alias_id":"\#(id)","recipient_ids":["\#(unverified)","\#(jane.defaultRecipientID)"]}"#)
        #expect(attached.status == 200, "\(attached.body)")
        #expect(Set(attached.data("recipients")?.arrayValue?.compactMap { $0["email"]?.stringValue } ?? [])
            == ["work@example.com", "jane@example.com"])
        let created = try await node.send("POST", "/api/v1/aliases", as: jane,
                                          json: #"{"domain":"relay.test","recipient_ids":["\#(unverified)"]}"#)
        #expect(created.data("recipients")?.arrayValue?.count == 1)
        let emptied = try await node.send("POST", "/api/v1/alias-recipients", as: jane, json: #"{"alias_id":"\#(id)","recipient_ids":[]}"#)
        #expect(emptied.data("recipients") == .array([]))
        await node.stop()
    }

    @Test func oneHundredConcurrentRandomAliasesAllSucceedAndAreDistinct() async throws {
        let node = try await APITestNode.start()
        let jane = try await node.makeUser("jane")
        let emails = try await withThrowingTaskGroup(of: String?.self) { group in
            for index in 0..<100 {
                let format = index % 2 == 0 ? "random_words" : "random_characters"
                group.addTask {
                    let reply = try await node.send("POST", "/api/v1/aliases", as: jane,
                                                    json: #"{"domain":"relay.test","format":"\#(format)"}"#)
                    return reply.status == 201 ? reply.data("email")?.stringValue : nil
                }
            }
            return try await group.reduce(into: [String?]()) { $0.append($1) }
        }
        #expect(emails.count == 100)
        #expect(emails.allSatisfy { $0 != nil })
        #expect(Set(emails.compactMap { $0 }).count == 100)
        let listed = try await node.send("GET", "/api/v1/aliases?page[size]=1", as: jane)
        #expect(listed.json?["meta"]?["total"] == .int(100))
        await node.stop()
    }
}
