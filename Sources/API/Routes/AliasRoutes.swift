import Directory
import Foundation
import Hummingbird
import MailCore

/// `aliases`, `active-aliases`, `alias-recipients`.
struct AliasRoutes {
    let services: APIServices

    func register(_ book: RouteBook) {
        book.on(.get, "aliases", list)
        book.on(.post, "aliases", create)
        book.on(.get, "aliases/{id}") { _, context in
            guard let alias = try await services.aliases.get(id: try context.id(), userID: try context.userID) else {
                throw APIError.notFound
            }
            return dataResponse(Resources.alias(alias))
        }
        book.on(.patch, "aliases/{id}", update)
        book.on(.delete, "aliases/{id}") { _, context in
            try await services.aliases.delete(id: try context.id(), userID: try context.userID)
            return noContent()
        }
        book.on(.patch, "aliases/{id}/restore") { _, context in
            dataResponse(Resources.alias(try await services.aliases.restore(id: try context.id(), userID: try context.userID)))
        }
        book.on(.delete, "aliases/{id}/forget") { _, context in
            try await services.aliases.forget(id: try context.id(), userID: try context.userID)
            return noContent()
        }
        book.on(.post, "active-aliases") { request, context in
            var fields = try await RequestFields.read(request, context: context)
            let id = fields.id()
            try fields.validate()
            let userID = try context.userID
            guard let current = try await services.aliases.get(id: id!, userID: userID) else { throw APIError.notFound }
            if current.deletedAt != nil {
                throw APIError(.unprocessableContent, "You need to restore this alias before you can activate it")
            }
            return dataResponse(Resources.alias(try await services.aliases.setActive(true, id: id!, userID: userID)))
        }
        book.on(.delete, "active-aliases/{id}") { _, context in
            _ = try await services.aliases.setActive(false, id: try context.id(), userID: try context.userID)
            return noContent()
        }  // (not `book.toggle`: activating a deleted alias has its own answer)
        book.on(.post, "alias-recipients") { request, context in
            var fields = try await RequestFields.read(request, context: context)
            let aliasID = fields.string("alias_id", required: true, maxLength: 64)
            let recipientIDs = fields.ids("recipient_ids", maxCount: 10) ?? []
            try fields.validate()
            do {
                let alias = try await services.aliases.setRecipients(recipientIDs, aliasID: aliasID!, userID: try context.userID)
                return dataResponse(Resources.alias(alias))
            } catch DirectoryError.unknownRecipient {
                throw APIError.validation([("recipient_ids", ["The selected recipient ids is invalid."])])
            }
        }
    }

    @Sendable func list(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let parameters = request.queryParameters
        var query = AliasQuery()
        var errors: [(String, [String])] = []
        if let number = parameters["page[number]"] {
            if let n = Int(number), n >= 1, n <= 1_000_000 { query.page = n }
            else { errors.append(("page.number", ["The page.number field must be at least 1."])) }
        }
        if let size = parameters["page[size]"] {
            if let n = Int(size), (1...100).contains(n) { query.pageSize = n }
            else { errors.append(("page.size", ["The page.size field must be between 1 and 100."])) }
        }
        if let search = parameters["filter[search]"] {
            if search.count > 50 { errors.append(("filter.search", ["The filter.search field must not be greater than 50 characters."])) }
            else if search.count < 3 { errors.append(("filter.search", ["The filter.search field must be at least 3 characters."])) }
            else { query.search = search }
        }
        if let active = parameters["filter[active]"] {
            switch active {
            case "true", "1": query.active = true
            case "false", "0": query.active = false
            default: errors.append(("filter.active", ["The selected filter.active is invalid."]))
            }
        }
        if let deleted = parameters["filter[deleted]"] {
            if let mode = AliasQuery.Deleted(rawValue: deleted) { query.deleted = mode }
            else { errors.append(("filter.deleted", ["The selected filter.deleted is invalid."])) }
        }
        if let sort = parameters["sort"] {
            let descending = sort.hasPrefix("-")
            if let column = AliasQuery.SortColumn(rawValue: String(sort.dropFirst(descending ? 1 : 0))) {
                query.sort = column
                query.descending = descending
            } else {
                errors.append(("sort", ["The selected sort is invalid."]))
            }
        }
        guard errors.isEmpty else { throw APIError.validation(errors) }
        let (aliases, total) = try await services.aliases.list(userID: try context.userID, query: query)
        let page = Page(items: aliases.map(Resources.alias), total: total, number: query.page, size: query.pageSize)
        return jsonResponse(page.json(base: request.baseURL, path: "/api/v1/aliases"))
    }

    @Sendable func create(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let userID = try context.userID
        var fields = try await RequestFields.read(request, context: context)
        let domain = fields.string("domain", required: true, maxLength: 253)?.lowercased()
        let description = fields.string("description", maxLength: 200)
        let format = fields.choice("format", AliasFormat.allCases.map(\.rawValue)).flatMap(AliasFormat.init(rawValue:))
        let recipientIDs = fields.ids("recipient_ids", maxCount: 10) ?? []
        var customLocalPart: String?
        if format == .custom {
            if let text = fields.string("local_part", required: true, maxLength: 64) {
                do throws(AliasLocalPart.Problem) { customLocalPart = try AliasLocalPart.validatedCustom(text) }
                catch { fields.fail("local_part", error.description) }
            }
        }
        var owner: Alias.Owner?
        if let domain {
            switch try await DomainOptions(services: services).owner(of: domain, userID: userID) {
            case .some(let found): owner = found
            case nil: fields.fail("domain", "The selected domain is invalid.")
            }
        }
        try fields.validate()
        let chosenFormat = format ?? .randomCharacters
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<10 {
            let id = Identifier.make()
            let localPart: String =
                switch chosenFormat {
                case .custom: customLocalPart!
                case .uuid: id
                case .randomWords: AliasLocalPart.randomWords(using: &generator)
                case .randomCharacters: AliasLocalPart.randomCharacters(using: &generator)
                }
            do {
                let alias = try await services.aliases.create(
                    id: id, userID: userID, owner: owner, localPart: localPart, domain: domain!,
                    description: description, recipientIDs: recipientIDs)
                return dataResponse(Resources.alias(alias), status: .created)
            } catch DirectoryError.duplicate {
                if chosenFormat == .custom {
                    throw APIError.validation([("local_part", ["The alias \(localPart)@\(domain!) already exists."])])
                }
                continue  // a random local part clashed: draw again
            } catch DirectoryError.unknownRecipient {
                throw APIError.validation([("recipient_ids", ["The selected recipient ids is invalid."])])
            }
        }
        throw APIError(.serviceUnavailable, "Could not find a free alias address; try again.")
    }

    @Sendable func update(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        var fields = try await RequestFields.read(request, context: context)
        let description = fields.optionalText("description", maxLength: 200)
        let fromName = fields.optionalText("from_name", maxLength: 50)
        // Postern's own field: where this alias's banner goes (null: the account's setting).
        let banner: String?? = fields.has("banner_location") ? .some(fields.choice("banner_location", ["top", "bottom", "off"])) : nil
        try fields.validate()
        let alias = try await services.aliases.update(
            id: try context.id(), userID: try context.userID, description: description, fromName: fromName,
            bannerLocation: banner)
        return dataResponse(Resources.alias(alias))
    }
}

/// The domains a user may create aliases on: the shared domains, `USERNAME.<root>` for each active
/// username, and each verified active custom domain.
struct DomainOptions {
    let services: APIServices

    func all(userID: String) async throws -> [String] {
        var options = services.sharedDomains
        for username in try await services.usernames.list(userID: userID) where username.active {
            options.append(username.username + "." + services.rootDomain)
        }
        for domain in try await services.domains.list(userID: userID) where domain.active && domain.verifiedAt != nil {
            options.append(domain.domain)
        }
        return options
    }

    /// nil when the domain is not one of the user's options; `.some(nil)` for a shared domain.
    func owner(of domain: String, userID: String) async throws -> Alias.Owner?? {
        if services.sharedDomains.contains(domain) { return .some(nil) }
        let suffix = "." + services.rootDomain
        if domain.hasSuffix(suffix) {
            let name = String(domain.dropLast(suffix.count))
            if let username = try await services.usernames.list(userID: userID).first(where: { $0.username == name && $0.active }) {
                return .some(.username(id: username.id))
            }
        }
        if let custom = try await services.domains.list(userID: userID).first(where: {
            $0.domain == domain && $0.active && $0.verifiedAt != nil
        }) {
            return .some(.customDomain(id: custom.id))
        }
        return nil
    }
}
