import Directory
import Foundation
import MailCore
import OpenPGP
import SMTPClient
import SMTPCore
import Spool

/// Copies encrypted to their mailbox's OpenPGP key (SPEC §5), after the header rewrite and the banner
/// and before the DKIM signature, so the signature covers what is sent.
extension DeliveryQueue {
    enum EncryptionOutcome {
        case encrypted([UInt8])
        /// Encryption was turned off for the mailbox while the copy waited.
        case notWanted
        /// The key cannot be encrypted to: the owner's `encryption_key_failure` decides.
        case keyFails(KeyProblem)
        /// The key could not be read now (database down and not on this node yet): tried again later.
        case unavailable(String)
    }

    /// What becomes of one group's copy: it is sent (encrypted, or as it is), or it ends here with an
    /// outcome for its recipients (held for its key, or deferred until the key can be read).
    enum PreparedCopy {
        case send([UInt8])
        case stop(SMTPClientTransaction.Outcome, hop: String)
    }

    /// The copy for a mailbox that wants encryption, with the owner's choice carried out when its key
    /// fails. `senderEncrypted`: the message as received was encrypted end to end.
    nonisolated func encryptedCopy(_ forwarded: [UInt8], senderEncrypted: Bool, delivery: SpooledMessage.Delivery,
                                   encryption: RecipientEncryption, isRetry: Bool, queueID: QueueID) async -> PreparedCopy
    {
        if senderEncrypted { return .send(forwarded) }
        switch await encrypt(forwarded, for: encryption, recipientID: delivery.recipientID, isRetry: isRetry) {
        case .encrypted(let bytes):
            return .send(bytes)
        case .notWanted:
            return .send(forwarded)
        case .keyFails(let problem) where encryption.whenKeyFails == .deliver:
            await encryptionFailed(delivery, encryption: encryption, problem: problem, held: false)
            return .send(Banner.warn(forwarded, saying: Self.unencryptedWarning(problem)))
        case .keyFails(let problem):
            await encryptionFailed(delivery, encryption: encryption, problem: problem, held: true)
            return .stop(.failed(Self.heldReply(problem, fingerprint: encryption.fingerprint)), hop: Self.heldForKey)
        case .unavailable(let why):
            logger.warning("cannot encrypt now", metadata: ["queue_id": "\(queueID)", "problem": "\(why)"])
            return .stop(.deferred(SMTPReply(451, "4.7.0", "The OpenPGP key of this mailbox is not available now")), hop: "openpgp")
        }
    }

    nonisolated func encrypt(_ message: [UInt8], for encryption: RecipientEncryption, recipientID: String?,
                             isRetry: Bool) async -> EncryptionOutcome
    {
        var encryption = encryption
        var refreshed = false
        if isRetry, let recipientID {
            // The copy waited: the mailbox may have a new key, or want no encryption any more.
            do {
                guard let current = try await routing.encryption(ofRecipient: recipientID) else { return .notWanted }
                encryption = current
                refreshed = true
            } catch {
                // The database is down: the key as it was when the copy was queued.
            }
        }
        guard let keyring else { return .unavailable("this node has no keyring") }
        let routing = routing
        func keyNamed(by encryption: RecipientEncryption) async throws -> RecipientKey? {
            try await keyring.key(fingerprint: encryption.fingerprint, digest: encryption.keyDigest) {
                guard let recipientID else { return nil }
                return try await routing.publicKey(ofRecipient: recipientID)
            }
        }
        var key: RecipientKey?
        do {
            key = try await keyNamed(by: encryption)
            // A new key uploaded since the copy was queued: the mailbox's key now is the one to use.
            if key == nil, !refreshed, let recipientID, let current = try await routing.encryption(ofRecipient: recipientID),
               current.fingerprint != encryption.fingerprint {
                key = try await keyNamed(by: current)
            }
        } catch {
            return .unavailable("\(error)")
        }
        guard let key else { return .keyFails(.missing) }
        if let problem = key.problem() { return .keyFails(problem) }
        let plan = EncryptedMessage.plan(message, inline: encryption.inline, protectedHeaders: encryption.protectedHeaders,
                                         boundary: "postern-pgp-" + UUID().uuidString.lowercased())
        do {
            return .encrypted(plan.assemble(armored: try await keyring.encrypt(plan.plaintext, to: key)))
        } catch let problem as KeyProblem {
            return .keyFails(problem)
        } catch {
            return .unavailable("\(error)")
        }
    }

    /// The hop of a copy held because its key cannot be used (its owner is told by `encryptionFailed`).
    static let heldForKey = "openpgp-hold"

    static func unencryptedWarning(_ problem: KeyProblem) -> String {
        "[NOT ENCRYPTED] This message could not be encrypted to your OpenPGP key: \(problem). Encryption is now off for this address; upload a new key to turn it back on."
    }

    static func heldReply(_ problem: KeyProblem, fingerprint: String) -> SMTPReply {
        SMTPReply(554, "5.7.0", "Not sent: mail to this mailbox is encrypted, and its OpenPGP key \(fingerprint) cannot be used: \(problem)")
    }

    /// A copy whose key failed: with `deliver`, encryption is turned off for the mailbox (it went out
    /// with a warning); with `hold` it stays on (the copy is a failed delivery, recorded by the caller).
    /// Either way the owner is told.
    func encryptionFailed(_ delivery: SpooledMessage.Delivery, encryption: RecipientEncryption, problem: KeyProblem, held: Bool) async {
        logger.warning("OpenPGP key unusable", metadata: [
            "to": "\(delivery.recipient)", "fingerprint": "\(encryption.fingerprint)", "problem": "\(problem)",
            "held": "\(held)",
        ])
        guard let userID = delivery.userID else { return }
        if held {
            await notifyOwner(
                userID, kind: "key " + encryption.fingerprint,
                subject: "Mail to \(delivery.recipient) is held: its OpenPGP key cannot be used",
                text: """
                    A message to your alias \(delivery.alias) was not sent to
                    \(delivery.recipient): mail to that address is encrypted to the key
                    \(encryption.fingerprint)
                    and \(problem).

                    It is kept as a failed delivery for 7 days. Upload a key that can encrypt
                    for \(delivery.recipient), then send it again from your failed deliveries.
                    """)
            return
        }
        guard let recipientID = delivery.recipientID else { return }
        do {
            guard try await routing.turnOffEncryption(recipientID: recipientID, fingerprint: encryption.fingerprint) else { return }
        } catch {
            logger.warning("could not turn encryption off", metadata: ["to": "\(delivery.recipient)", "error": "\(error)"])
        }
        await notifyOwner(
            userID, kind: "key " + encryption.fingerprint,
            subject: "Encryption to \(delivery.recipient) is turned off",
            text: """
                Mail to \(delivery.recipient) is encrypted to the OpenPGP key
                \(encryption.fingerprint)
                but \(problem). A message to your alias
                \(delivery.alias) was delivered unencrypted, with a warning at the top.

                Encryption is now off for \(delivery.recipient). Upload a key that can encrypt
                to turn it back on. To have such mail held instead of delivered
                unencrypted, set encryption_key_failure to "hold" in your account settings.
                """)
    }
}
