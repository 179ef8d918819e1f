/// How a forwarded copy is encrypted to its mailbox's OpenPGP key (the recipient's `should_encrypt`,
/// `inline_encryption` and `protected_headers`, and its owner's choice for keys that stopped
/// working). Stored with each queued copy, so delivery needs no database for it.
public struct RecipientEncryption: Codable, Sendable, Hashable {
    /// What happens to mail when the key cannot be encrypted to (expired, revoked, no encryption
    /// subkey): `users.encryption_key_failure`.
    public enum WhenKeyFails: String, Codable, Sendable, CaseIterable {
        /// Delivered without encryption, with a warning at the top; encryption is turned off for the
        /// mailbox and the owner told (as addy.io does).
        case deliver
        /// Not sent: kept as a failed delivery, to send again once the key is fixed; encryption stays on.
        case hold
    }

    /// The primary key's fingerprint (upper-case hex).
    public var fingerprint: String
    /// A digest of the key as the database holds it: a node re-imports the key when it changes.
    public var keyDigest: String?
    /// Armoured text in place of a text/plain body, rather than PGP/MIME (only for such bodies).
    public var inline: Bool
    /// PGP/MIME with the real Subject, From, To, Cc and Date inside, `...` as the outer Subject.
    public var protectedHeaders: Bool
    public var whenKeyFails: WhenKeyFails

    public init(fingerprint: String, keyDigest: String?, inline: Bool = false, protectedHeaders: Bool = false,
                whenKeyFails: WhenKeyFails = .deliver) {
        self.fingerprint = fingerprint
        self.keyDigest = keyDigest
        self.inline = inline
        self.protectedHeaders = protectedHeaders
        self.whenKeyFails = whenKeyFails
    }
}
