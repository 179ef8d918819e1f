@testable import API
import Directory
import Foundation
import TestSupport
import Testing

@Suite struct RecipientEndpointTests {
    @Test func recipientsListCreateVerifyKeysTogglesDelete() async throws {
        let node = try await APITestNode.start()
        let jane = try await node.makeUser("jane")
        let list = try await node.send("GET", "/api/v1/recipients", as: jane)
        #expect(list.status == 200)
        #expect(list.data?.arrayValue?.count == 1)
        let fields = ["id", "user_id", "email", "can_reply_send", "should_encrypt", "inline_encryption", "protected_headers",
                      "fingerprint", "email_verified_at", "aliases_count", "created_at", "updated_at"]
        #expect(Set(list.data?.arrayValue?.first?.keys ?? []) == Set(fields + ["remove_pgp_keys", "remove_pgp_signatures"]))

        let created = try await node.send("POST", "/api/v1/recipients", as: jane, json: #"{"email":"Work@Example.COM"}"#)
        #expect(created.status == 201, "\(created.body)")
        #expect(created.data("email") == .string("Work@example.com"))
        #expect(created.data("email_verified_at") == .null)
        let id = try #require(created.data("id")?.stringValue)
        #expect(try await node.send("POST", "/api/v1/recipients", as: jane, json: #"{"email":"Work@example.com"}"#).status == 422)
        #expect(try await node.send("POST", "/api/v1/recipients", as: jane, json: #"{"email":"not an address"}"#).status == 422)
        #expect(try await node.send("GET", "/api/v1/recipients/\(id)", as: jane).data("email") == .string("Work@example.com"))
        let verified = try await node.send("GET", "/api/v1/recipients?filter[verified]=true", as: jane)
        #expect(verified.data?.arrayValue?.compactMap { $0["email"]?.stringValue } == ["jane@example.com"])
        let unverified = try await node.send("GET", "/api/v1/recipients?filter[verified]=false", as: jane)
        #expect(unverified.data?.arrayValue?.compactMap { $0["email"]?.stringValue } == ["Work@example.com"])
        #expect(try await node.send("GET", "/api/v1/recipients?filter[verified]=perhaps", as: jane).status == 422)

        // Encryption needs a key first.
        #expect(try await node.send("POST", "/api/v1/encrypted-recipients", as: jane, json: #"{"id":"\#(id)"}"#).status == 422)
        let (home, keys) = try await GnuPGHome.shared()
        let key = try #require(keys[.ed25519])
        let secretKey = try await home.secretKey(key.email)
        let keyJSON = String(decoding: JSONValue.object([("key_data", .string(key.publicKey))]).serialized, as: UTF8.self)
        let withKey = try await node.send("PATCH", "/api/v1/recipient-keys/\(id)", as: jane, json: keyJSON)
        #expect(withKey.status == 200, "\(withKey.body)")
        #expect(withKey.data("fingerprint") == .string(key.fingerprint))
        #expect(withKey.data("should_encrypt") == .bool(true))
        for bad in [
            #"{"key_data":"hello"}"#,
            String(decoding: JSONValue.object([("key_data", .string(secretKey))]).serialized, as: UTF8.self),
            #"{"key_data":"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbm90IGEga2V5\n-----END PGP PUBLIC KEY BLOCK-----\n"}"#,
            #"{}"#,
        ] {
            let reply = try await node.send("PATCH", "/api/v1/recipient-keys/\(id)", as: jane, json: bad)
            #expect(reply.status == 422, "\(bad.prefix(60)) → \(reply.status) \(reply.body)")
        }
        // Keys mail cannot be encrypted to are refused, saying why.
        for (kind, why) in [(GnuPGHome.Kind.signOnly, "it can only sign"), (.expired, "the key expired on"), (.revoked, "revoked")] {
            let json = String(decoding: JSONValue.object([("key_data", .string(keys[kind]?.publicKey ?? ""))]).serialized, as: UTF8.self)
            let reply = try await node.send("PATCH", "/api/v1/recipient-keys/\(id)", as: jane, json: json)
            #expect(reply.status == 422, "\(kind): \(reply.body)")
            #expect(reply.body.contains(why), "\(kind): \(reply.body)")
        }
        for path in ["encrypted-recipients", "inline-encrypted-recipients", "protected-headers-recipients", "allowed-recipients"] {
            #expect(try await node.send("DELETE", "/api/v1/\(path)/\(id)", as: jane).status == 204, "\(path)")
            let on = try await node.send("POST", "/api/v1/\(path)", as: jane, json: #"{"id":"\#(id)"}"#)
            #expect(on.status == 200, "\(path): \(on.body)")
        }
        let after = try await node.send("GET", "/api/v1/recipients/\(id)", as: jane)
        #expect(after.data("inline_encryption") == .bool(true))
        #expect(after.data("protected_headers") == .bool(true))
        #expect(after.data("can_reply_send") == .bool(true))
        #expect(try await node.send("DELETE", "/api/v1/recipient-keys/\(id)", as: jane).status == 204)
        let keyless = try await node.send("GET", "/api/v1/recipients/\(id)", as: jane)
        #expect(keyless.data("fingerprint") == .null)
        #expect(keyless.data("should_encrypt") == .bool(false))

        #expect(try await node.send("DELETE", "/api/v1/recipients/\(jane.defaultRecipientID)", as: jane).status == 403)
        #expect(try await node.send("DELETE", "/api/v1/recipients/\(id)", as: jane).status == 204)
        #expect(try await node.send("GET", "/api/v1/recipients/\(id)", as: jane).status == 404)
        await node.stop()
    }
}

@Suite struct UsernameAndDomainEndpointTests {
    @Test func usernamesAndTheirDomainOptions() async throws {
        let node = try await APITestNode.start()
        let jane = try await node.makeUser("jane")
        let created = try await node.send("POST", "/api/v1/usernames", as: jane, json: #"{"username":"JaneWork","description":"work"}"#)
        #expect(created.status == 201, "\(created.body)")
        #expect(created.data("username") == .string("janework"))
        let id = try #require(created.data("id")?.stringValue)
        #expect(try await node.send("POST", "/api/v1/usernames", as: jane, json: #"{"username":"janework"}"#).status == 422)
        #expect(try await node.send("POST", "/api/v1/usernames", as: jane, json: #"{"username":"jane.work"}"#).status == 422)
        #expect(try await node.send("POST", "/api/v1/usernames", as: jane, json: #"{"username":"mail"}"#).json?["errors"]?["username"]
            == .array([.string("The username is reserved.")]))
        let options = try await node.send("GET", "/api/v1/domain-options", as: jane)
        #expect(options.data == .array([.string("relay.test"), .string("other-shared.test"), .string("jane.relay.test"),
                                        .string("janework.relay.test")]))
        #expect(options.json?["defaultAliasFormat"] == .string("random_characters"))
        #expect(options.json?["sharedDomains"] == .array([.string("relay.test"), .string("other-shared.test")]))

        let patched = try await node.send("PATCH", "/api/v1/usernames/\(id)", as: jane, json: #"{"from_name":"Jane at work"}"#)
        #expect(patched.data("from_name") == .string("Jane at work"))
        #expect(patched.data("description") == .string("work"))
        for path in ["active-usernames", "catch-all-usernames", "loginable-usernames"] {
            #expect(try await node.send("DELETE", "/api/v1/\(path)/\(id)", as: jane).status == 204, "\(path)")
        }
        let off = try await node.send("GET", "/api/v1/usernames/\(id)", as: jane)
        #expect(off.data("active") == .bool(false) && off.data("catch_all") == .bool(false) && off.data("can_login") == .bool(false))
        #expect(try await node.send("GET", "/api/v1/domain-options", as: jane).data?.arrayValue?.count == 3)
        #expect(try await node.send("POST", "/api/v1/aliases", as: jane, json: #"{"domain":"janework.relay.test"}"#).status == 422)
        #expect(try await node.send("POST", "/api/v1/active-usernames", as: jane, json: #"{"id":"\#(id)"}"#).data("active") == .bool(true))
        #expect(try await node.send("GET", "/api/v1/usernames", as: jane).data?.arrayValue?.count == 2)

        let defaultID = try #require(try await node.send("GET", "/api/v1/usernames", as: jane).data?.arrayValue?
            .first { $0["username"] == .string("jane") }?["id"]?.stringValue)
        #expect(try await node.send("DELETE", "/api/v1/usernames/\(defaultID)", as: jane).status == 403)
        #expect(try await node.send("DELETE", "/api/v1/usernames/\(id)", as: jane).status == 204)
        #expect(try await node.send("GET", "/api/v1/usernames/\(id)", as: jane).status == 404)
        await node.stop()
    }

    @Test func customDomains() async throws {
        let node = try await APITestNode.start()
        let jane = try await node.makeUser("jane")
        let created = try await node.send("POST", "/api/v1/domains", as: jane, json: #"{"domain":"Jane.Example","description":"mine"}"#)
        #expect(created.status == 201, "\(created.body)")
        #expect(created.data("domain") == .string("jane.example"))
        #expect(created.data("domain_verified_at") == .null)
        let id = try #require(created.data("id")?.stringValue)
        for bad in [#"{"domain":"jane.example"}"#, #"{"domain":"relay.test"}"#, #"{"domain":"x.relay.test"}"#,
                    #"{"domain":"no spaces.example"}"#, #"{"domain":"nodot"}"#, #"{"domain":5}"#] {
            #expect(try await node.send("POST", "/api/v1/domains", as: jane, json: bad).status == 422, "\(bad)")
        }
        // Not verified yet: not an alias domain.
        #expect(try await node.send("POST", "/api/v1/aliases", as: jane, json: #"{"domain":"jane.example"}"#).status == 422)
        try await node.pool.execute("UPDATE domains SET domain_verified_at = NOW() WHERE id = ?", [.text(id)])
        let onDomain = try await node.send("POST", "/api/v1/aliases", as: jane, json: #"{"domain":"jane.example","format":"custom","local_part":"hello"}"#)
        #expect(onDomain.status == 201, "\(onDomain.body)")
        #expect(onDomain.data("aliasable_type") == .string("App\\Models\\Domain"))
        #expect(try await node.send("GET", "/api/v1/domains/\(id)", as: jane).data("aliases_count") == .int(1))

        #expect(try await node.send("PATCH", "/api/v1/domains/\(id)", as: jane, json: #"{"description":"changed"}"#).data("description") == .string("changed"))
        #expect(try await node.send("DELETE", "/api/v1/catch-all-domains/\(id)", as: jane).status == 204)
        #expect(try await node.send("DELETE", "/api/v1/active-domains/\(id)", as: jane).status == 204)
        let toggled = try await node.send("POST", "/api/v1/catch-all-domains", as: jane, json: #"{"id":"\#(id)"}"#)
        #expect(toggled.data("catch_all") == .bool(true) && toggled.data("active") == .bool(false))
        #expect(try await node.send("POST", "/api/v1/active-domains", as: jane, json: #"{"id":"\#(id)"}"#).data("active") == .bool(true))
        #expect(try await node.send("GET", "/api/v1/domains", as: jane).data?.arrayValue?.count == 1)
        #expect(try await node.send("DELETE", "/api/v1/domains/\(id)", as: jane).status == 204)
        #expect(try await node.send("GET", "/api/v1/domains/\(id)", as: jane).status == 404)
        await node.stop()
    }
}

@Suite struct AccountEndpointTests {
    @Test func accountTokenVersionAndFailedDeliveries() async throws {
        let node = try await APITestNode.start()
        let jane = try await node.makeUser("jane")
        _ = try await node.send("POST", "/api/v1/aliases", as: jane, json: #"{"domain":"relay.test"}"#)
        let account = try await node.send("GET", "/api/v1/account-details", as: jane)
        #expect(account.status == 200, "\(account.body)")
        #expect(account.data("id") == .string(jane.id))
        #expect(account.data("username") == .string("jane"))
        #expect(account.data("default_recipient_id") == .string(jane.defaultRecipientID))
        #expect(account.data("total_aliases") == .int(1))
        #expect(account.data("total_active_aliases") == .int(1))
        #expect(account.data("total_emails_forwarded") == .int(0))
        #expect(account.data("recipient_count") == .int(1))
        #expect(account.data("default_username_id")?.stringValue != nil)
        #expect(account.data("username_limit")?.intValue != nil)

        let token = try await node.send("GET", "/api/v1/api-token-details", as: jane)
        #expect(token.json?["name"] == .string("tests"))
        #expect(token.json?["expires_at"] == .null)

        let version = try await node.send("GET", "/api/v1/app-version", as: jane)
        #expect(version.json?["version"]?.stringValue?.split(separator: ".").count == 3)
        #expect(version.json?["major"]?.intValue != nil)

        #expect(try await node.send("GET", "/api/v1/failed-deliveries", as: jane).data == .array([]))
        let now = Date().atDatabasePrecision
        let failure = FailedDelivery(
            id: Identifier.make(), userID: jane.id, recipientID: jane.defaultRecipientID, recipientEmail: nil, aliasID: nil,
            aliasEmail: nil, bounceType: "hard", remoteMTA: "mx.example.com", sender: "shop@example.net", emailType: "F",
            status: "5.1.1", code: "550 5.1.1 no such user", attemptedAt: now, createdAt: now, updatedAt: now)
        try await FailedDeliveries(pool: node.pool).record(failure)
        let listed = try await node.send("GET", "/api/v1/failed-deliveries", as: jane)
        #expect(listed.data?.arrayValue?.first?["recipient_email"] == .string("jane@example.com"))
        #expect(listed.data?.arrayValue?.first?["code"] == .string("550 5.1.1 no such user"))
        #expect(try await node.send("GET", "/api/v1/failed-deliveries/\(failure.id)", as: jane).data("remote_mta") == .string("mx.example.com"))
        #expect(try await node.send("DELETE", "/api/v1/failed-deliveries/\(failure.id)", as: jane).status == 204)
        #expect(try await node.send("GET", "/api/v1/failed-deliveries/\(failure.id)", as: jane).status == 404)
        await node.stop()
    }
}
