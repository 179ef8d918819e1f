import Directory
import Hummingbird
import MailCore

/// `account-details`, `api-token-details`, `domain-options`, `app-version`, `failed-deliveries`.
struct AccountRoutes {
    let services: APIServices

    func register(_ book: RouteBook) {
        book.on(.get, "account-details") { _, context in
            guard let details = try await services.accounts.details(userID: try context.userID, defaultBandwidthLimit: services.defaultBandwidthLimit) else {
                throw APIError.notFound
            }
            return dataResponse(Resources.account(details))
        }
        // Postern's own settings (addy.io has no such): how forwarded mail failing DMARC is marked, and
        // what happens to mail for a mailbox whose OpenPGP key stopped working.
        book.on(.patch, "account-details") { request, context in
            var fields = try await RequestFields.read(request, context: context)
            fields.refuseOthers(than: ["dmarc_fail_warning", "encryption_key_failure"])
            let warning = fields.string("dmarc_fail_warning", maxLength: 8)
            if let warning, !["subject", "banner", "off"].contains(warning) {
                fields.fail("dmarc_fail_warning", "The dmarc fail warning must be one of subject, banner, off.")
            }
            let keyFailure = fields.string("encryption_key_failure", maxLength: 8)
            if let keyFailure, RecipientEncryption.WhenKeyFails(rawValue: keyFailure) == nil {
                fields.fail("encryption_key_failure", "The encryption key failure must be one of deliver, hold.")
            }
            try fields.validate()
            let userID = try context.userID
            if let warning {
                try await services.accounts.setDMARCFailWarning(ForwardingStyle.DMARCWarning(rawValue: warning), userID: userID)
            }
            if let keyFailure = keyFailure.flatMap(RecipientEncryption.WhenKeyFails.init(rawValue:)) {
                try await services.accounts.setEncryptionKeyFailure(keyFailure, userID: userID)
            }
            guard let details = try await services.accounts.details(userID: userID, defaultBandwidthLimit: services.defaultBandwidthLimit) else {
                throw APIError.notFound
            }
            return dataResponse(Resources.account(details))
        }
        book.on(.get, "api-token-details") { _, context in
            let token = try context.requireToken()
            return jsonResponse(.object([
                ("name", .string(token.label)), ("created_at", APITime.json(token.createdAt)),
                ("expires_at", APITime.json(token.expiresAt)),
            ]))
        }
        book.on(.get, "domain-options") { _, context in
            let userID = try context.userID
            let options = try await DomainOptions(services: services).all(userID: userID)
            let details = try await services.accounts.details(userID: userID, defaultBandwidthLimit: services.defaultBandwidthLimit)
            return jsonResponse(.object([
                ("data", .array(options.map(JSONValue.string))),
                ("sharedDomains", .array(services.sharedDomains.map(JSONValue.string))),
                ("defaultAliasDomain", .string(details?.defaultAliasDomain ?? options.first)),
                ("defaultAliasFormat", .string(details?.defaultAliasFormat ?? AliasFormat.randomCharacters.rawValue)),
            ]))
        }
        book.on(.get, "app-version") { _, _ in
            let v = APIServer.version
            return jsonResponse(.object([
                ("version", .string("\(v.major).\(v.minor).\(v.patch)")), ("major", .int(v.major)),
                ("minor", .int(v.minor)), ("patch", .int(v.patch)),
            ]))
        }
        book.on(.get, "failed-deliveries") { _, context in
            let all = try await services.failedDeliveries.list(userID: try context.userID)
            return jsonResponse(.object([("data", .array(all.map(Resources.failedDelivery)))]))
        }
        book.on(.get, "failed-deliveries/{id}") { _, context in
            guard let delivery = try await services.failedDeliveries.get(id: try context.id(), userID: try context.userID) else {
                throw APIError.notFound
            }
            return dataResponse(Resources.failedDelivery(delivery))
        }
        // addy.io's route: the message, kept 7 days after it failed, is queued again for the same mailbox.
        book.on(.post, "failed-deliveries/{id}/resend") { _, context in
            let userID = try context.userID
            guard let failure = try await services.failedDeliveries.get(id: try context.id(), userID: userID) else {
                throw APIError.notFound
            }
            guard let kept = try await services.failedDeliveries.keptMessage(of: failure.id, userID: userID) else {
                throw APIError(.unprocessableContent, "The message is no longer kept, so it cannot be sent again.")
            }
            guard let resend = services.resend else {
                throw APIError(.serviceUnavailable, "Resending is not available on this node.")
            }
            do {
                try await resend(failure, kept.sender, kept.message)
                // Sent again once: should it fail again, that failure keeps its own copy. The message is
                // queued by now, so failing to drop the copy must not report a failure.
                try? await services.failedDeliveries.dropKeptMessage(of: failure.id)
            } catch {
                services.logger.warning("resend failed", metadata: ["error": "\(error)"])
                throw APIError(.serviceUnavailable, "The message could not be queued again; try later.")
            }
            return dataResponse(Resources.failedDelivery(failure))
        }
        book.on(.delete, "failed-deliveries/{id}") { _, context in
            try await services.failedDeliveries.delete(id: try context.id(), userID: try context.userID)
            return noContent()
        }
    }
}
