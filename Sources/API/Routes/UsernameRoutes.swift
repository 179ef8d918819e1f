import Directory
import Hummingbird

/// `usernames` and their toggles (`active-usernames`, `catch-all-usernames`, `loginable-usernames`).
struct UsernameRoutes {
    let services: APIServices

    static let toggles: [(path: String, flag: UsernameFlag)] = [
        ("active-usernames", .active), ("catch-all-usernames", .catchAll), ("loginable-usernames", .canLogin),
    ]

    func json(_ username: Username, _ userID: String) async throws -> JSONValue {
        let recipient = try await username.defaultRecipientID.asyncMap { try await services.recipients.get(id: $0, userID: userID) } ?? nil
        return Resources.username(username, defaultRecipient: recipient)
    }

    func register(_ book: RouteBook) {
        book.on(.get, "usernames") { _, context in
            let userID = try context.userID
            var items: [JSONValue] = []
            for username in try await services.usernames.list(userID: userID) { items.append(try await json(username, userID)) }
            return jsonResponse(.object([("data", .array(items))]))
        }
        book.on(.post, "usernames") { request, context in
            var fields = try await RequestFields.read(request, context: context)
            let name = fields.string("username", required: true, maxLength: 20)
            let description = fields.string("description", maxLength: 200)
            if let name {
                do throws(DirectoryError) {
                    _ = try Accounts.normalizedUsername(name)
                } catch .reservedUsername {
                    fields.fail("username", "The username is reserved.")
                } catch {
                    fields.fail("username", "The username may only contain letters and numbers.")
                }
            }
            try fields.validate()
            let userID = try context.userID
            do {
                let created = try await services.usernames.create(userID: userID, username: name!, description: description)
                return dataResponse(try await json(created, userID), status: .created)
            } catch DirectoryError.usernameTaken {
                throw APIError.validation([("username", ["The username has already been taken."])])
            }
        }
        book.on(.get, "usernames/{id}") { _, context in
            let userID = try context.userID
            guard let username = try await services.usernames.get(id: try context.id(), userID: userID) else {
                throw APIError.notFound
            }
            return dataResponse(try await json(username, userID))
        }
        book.on(.patch, "usernames/{id}") { request, context in
            var fields = try await RequestFields.read(request, context: context)
            let description = fields.optionalText("description", maxLength: 200)
            let fromName = fields.optionalText("from_name", maxLength: 50)
            try fields.validate()
            let userID = try context.userID
            let username = try await services.usernames.update(
                id: try context.id(), userID: userID, description: description, fromName: fromName)
            return dataResponse(try await json(username, userID))
        }
        book.on(.delete, "usernames/{id}") { _, context in
            let id = try context.id()
            let userID = try context.userID
            guard try await services.usernames.get(id: id, userID: userID) != nil else { throw APIError.notFound }
            do {
                try await services.usernames.delete(id: id, userID: userID)
            } catch DirectoryError.defaultUsername {
                throw APIError(.forbidden, "You cannot delete your default username.")
            }
            return noContent()
        }
        for (path, flag) in Self.toggles {
            book.toggle(path) { on, id, userID in
                try await json(try await services.usernames.set(flag, on, id: id, userID: userID), userID)
            }
        }
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
