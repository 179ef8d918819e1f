import Directory
import Hummingbird
import MailCore
import OpenPGP

/// `recipients`, `recipient-keys` and the recipient toggles.
struct RecipientRoutes {
    let services: APIServices

    /// addy.io's toggle endpoints and the flag each one sets.
    static let toggles: [(path: String, flag: RecipientFlag)] = [
        ("encrypted-recipients", .shouldEncrypt), ("inline-encrypted-recipients", .inlineEncryption),
        ("protected-headers-recipients", .protectedHeaders), ("allowed-recipients", .canReplySend),
    ]

    func register(_ book: RouteBook) {
        book.on(.get, "recipients") { request, context in
            var recipients = try await services.recipients.list(userID: try context.userID)
            switch request.queryParameters["filter[verified]"] {
            case nil: break
            case "true", "1": recipients = recipients.filter { $0.verifiedAt != nil }
            case "false", "0": recipients = recipients.filter { $0.verifiedAt == nil }
            default: throw APIError.validation([("filter.verified", ["The selected filter.verified is invalid."])])
            }
            return jsonResponse(.object([("data", .array(recipients.map(Resources.recipient)))]))
        }
        book.on(.post, "recipients") { request, context in
            var fields = try await RequestFields.read(request, context: context)
            var address: EmailAddress?
            if let text = fields.string("email", required: true, maxLength: 254) {
                do { address = try EmailAddress(parsing: text) } catch {
                    fields.fail("email", "The email field must be a valid email address.")
                }
            }
            try fields.validate()
            do {
                let (recipient, token) = try await services.recipients.create(userID: try context.userID, email: address!)
                await sendVerification(to: recipient, token: token)
                return dataResponse(Resources.recipient(recipient), status: .created)
            } catch DirectoryError.duplicate {
                throw APIError.validation([("email", ["The email has already been taken."])])
            }
        }
        // addy.io's route: a new verification link, for a recipient whose first one was lost.
        book.on(.post, "recipients/email/resend") { request, context in
            var fields = try await RequestFields.read(request, context: context)
            let id = fields.string("recipient_id", required: true, maxLength: 64)
            try fields.validate()
            let userID = try context.userID
            guard try await services.recipients.get(id: id!, userID: userID) != nil else { throw APIError.notFound }
            guard let (recipient, token) = try await services.recipients.renewVerification(id: id!, userID: userID) else {
                throw APIError.validation([("recipient_id", ["The recipient is verified already, or was sent a link less than a minute ago."])])
            }
            await sendVerification(to: recipient, token: token)
            return dataResponse(Resources.recipient(recipient))
        }
        book.on(.get, "recipients/{id}") { _, context in
            guard let recipient = try await services.recipients.get(id: try context.id(), userID: try context.userID) else {
                throw APIError.notFound
            }
            return dataResponse(Resources.recipient(recipient))
        }
        book.on(.delete, "recipients/{id}") { _, context in
            let id = try context.id()
            let userID = try context.userID
            guard try await services.recipients.get(id: id, userID: userID) != nil else { throw APIError.notFound }
            do {
                try await services.recipients.delete(id: id, userID: userID)
            } catch DirectoryError.defaultRecipient {
                throw APIError(.forbidden, "You cannot delete your default recipient.")
            }
            return noContent()
        }
        book.on(.patch, "recipient-keys/{id}") { request, context in
            let id = try context.id()
            let userID = try context.userID
            guard try await services.recipients.get(id: id, userID: userID) != nil else { throw APIError.notFound }
            var fields = try await RequestFields.read(request, context: context)
            let keyData = fields.string("key_data", required: true, maxLength: 100_000)
            try fields.validate()
            let fingerprint: String
            do throws(PublicKeyCheck.Problem) {
                fingerprint = try await PublicKeyCheck.fingerprint(of: keyData!)
            } catch {
                throw APIError.validation([("key_data", [error.description])])
            }
            let recipient = try await services.recipients.setKey((keyData!, fingerprint), id: id, userID: userID)
            return dataResponse(Resources.recipient(recipient))
        }
        book.on(.delete, "recipient-keys/{id}") { _, context in
            _ = try await services.recipients.setKey(nil, id: try context.id(), userID: try context.userID)
            return noContent()
        }
        for (path, flag) in Self.toggles {
            book.toggle(path) { on, id, userID in
                if on, flag != .canReplySend {
                    guard let current = try await services.recipients.get(id: id, userID: userID) else { throw APIError.notFound }
                    if current.fingerprint == nil {
                        throw APIError.validation([("id", ["The recipient has no public key to encrypt with."])])
                    }
                }
                return Resources.recipient(try await services.recipients.set(flag, on, id: id, userID: userID))
            }
        }
    }

    /// Mails the verification link; a failure to queue it is logged (the resend route sends another).
    func sendVerification(to recipient: Recipient, token: String) async {
        guard let notify = services.notify, let from = services.notificationsFrom,
              let to = try? EmailAddress(parsing: recipient.email)
        else { return }
        let notice = NoticeMessage(
            from: from, to: to, subject: "Confirm your address for forwarded mail",
            text: """
                Someone, hopefully you, asked Postern to forward alias mail to \(recipient.email).
                Nothing is forwarded here until the address is confirmed. To confirm it, open:

                \(services.publicURL)/verify/\(token)

                If this was not you, ignore this message.
                """)
        do {
            try await notify(notice)
        } catch {
            services.logger.warning("could not queue a verification mail", metadata: ["error": "\(error)"])
        }
    }
}
