import Directory
import MailAuth
import Hummingbird

/// `domains` (custom domains) and their toggles (`active-domains`, `catch-all-domains`).
struct DomainRoutes {
    let services: APIServices

    static let toggles: [(path: String, flag: CustomDomainFlag)] = [
        ("active-domains", .active), ("catch-all-domains", .catchAll),
    ]

    func json(_ domain: CustomDomain, _ userID: String) async throws -> JSONValue {
        let recipient = try await domain.defaultRecipientID.asyncMap { try await services.recipients.get(id: $0, userID: userID) } ?? nil
        return Resources.domain(domain, defaultRecipient: recipient)
    }

    func register(_ book: RouteBook) {
        book.on(.get, "domains") { _, context in
            let userID = try context.userID
            var items: [JSONValue] = []
            for domain in try await services.domains.list(userID: userID) { items.append(try await json(domain, userID)) }
            return jsonResponse(.object([("data", .array(items))]))
        }
        book.on(.post, "domains") { request, context in
            var fields = try await RequestFields.read(request, context: context)
            let domain = fields.string("domain", required: true, maxLength: 253)?.lowercased()
            let description = fields.string("description", maxLength: 200)
            if let domain {
                let root = services.rootDomain
                if !DomainName.isValid(domain) || !domain.contains(".") {
                    fields.fail("domain", "The domain must be a valid domain name.")
                } else if domain == root || domain.hasSuffix("." + root) || services.sharedDomains.contains(domain) {
                    fields.fail("domain", "The domain is one of this relay's own domains.")
                }
            }
            try fields.validate()
            let userID = try context.userID
            do {
                let created = try await services.domains.create(userID: userID, domain: domain!, description: description)
                return dataResponse(try await json(created, userID), status: .created)
            } catch DirectoryError.duplicate {
                throw APIError.validation([("domain", ["The domain has already been taken."])])
            }
        }
        book.on(.get, "domains/{id}") { _, context in
            let userID = try context.userID
            guard let domain = try await services.domains.get(id: try context.id(), userID: userID) else {
                throw APIError.notFound
            }
            return dataResponse(try await json(domain, userID))
        }
        book.on(.patch, "domains/{id}") { request, context in
            var fields = try await RequestFields.read(request, context: context)
            let description = fields.optionalText("description", maxLength: 200)
            let fromName = fields.optionalText("from_name", maxLength: 50)
            try fields.validate()
            let userID = try context.userID
            let domain = try await services.domains.update(
                id: try context.id(), userID: userID, description: description, fromName: fromName)
            return dataResponse(try await json(domain, userID))
        }
        // Runs the DNS checks now and records what passed (addy.io runs them from its web pages).
        book.on(.post, "domains/{id}/check") { request, context in
            var fields = try await RequestFields.read(request, context: context)
            fields.refuseOthers()
            try fields.validate()
            let userID = try context.userID
            let id = try context.id()
            guard let domain = try await services.domains.get(id: id, userID: userID) else { throw APIError.notFound }
            let outcome = await services.domainCheck.check(
                domain: domain.domain, verificationRecord: domain.verificationRecord ?? "", relayHosts: services.mxHosts,
                dkimSelector: services.dkimSelector, dkimRecord: services.dkimRecord(for: domain.domain))
            let checked = try await services.domains.recordChecks(
                id: id, userID: userID, ownership: outcome.ownership, mx: outcome.mx, sending: outcome.sending)
            guard case .object(var fields) = try await json(checked, userID) else { throw APIError.notFound }
            fields.append(("checks", .object([
                ("ownership", .bool(outcome.ownership)), ("mx", .bool(outcome.mx)), ("sending", .bool(outcome.sending)),
                ("problems", .object(outcome.problems.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ])))
            return dataResponse(.object(fields))
        }
        book.on(.delete, "domains/{id}") { _, context in
            try await services.domains.delete(id: try context.id(), userID: try context.userID)
            return noContent()
        }
        for (path, flag) in Self.toggles {
            book.toggle(path) { on, id, userID in
                try await json(try await services.domains.set(flag, on, id: id, userID: userID), userID)
            }
        }
    }
}

/// DNS name syntax: dot-separated labels of ASCII letters, digits and inner hyphens.
enum DomainName {
    static func isValid(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }
}
