import Foundation

/// The recipients' public keys on this node: a GPGME keyring in a directory the node owns (under the
/// spool), filled from the database on first use. Nodes share no keyring: each imports a key the
/// first time it needs it, and again when the database holds a different copy (`digest`).
///
/// GPGME calls run one at a time on a queue of their own, never on the caller's thread. Encryption
/// to RSA (2048 bits and more) and ECDH keys on Curve25519 and the NIST curves is done here without
/// gpg (`MessageEncryption`); other keys are encrypted to by gpg through GPGME.
public actor Keyring {
    public enum Unavailable: Error, Equatable, CustomStringConvertible {
        /// The database could not be asked for a key this node does not hold yet.
        case notFetched(String)
        case gpg(String)

        public var description: String {
            switch self {
            case .notFetched(let why): "the key is not in this node's keyring and could not be read from the database: \(why)"
            case .gpg(let why): "gpg failed: \(why)"
            }
        }
    }

    public let directory: String
    private let queue = DispatchQueue(label: "postern.gpgme")
    /// Keys read from the keyring, by fingerprint, with the digest of the database copy they came from
    /// (nil when the database could not tell).
    private var known: [String: (digest: String?, key: RecipientKey)] = [:]

    public init(directory: String) throws {
        try GPGMESession.prepare(home: directory)
        self.directory = directory
    }

    /// The key `fingerprint`. When the keyring has no copy of the database's version (`digest`), the
    /// key is read with `fetch` and imported first. Nil: neither the database nor the keyring has it.
    public func key(fingerprint: String, digest: String?, fetch: @Sendable () async throws -> String?)
        async throws(Unavailable) -> RecipientKey?
    {
        let fingerprint = fingerprint.uppercased()
        if let entry = known[fingerprint], let digest, entry.digest == digest { return entry.key }
        var armored: String?
        var fetchProblem: String?
        do {
            armored = try await fetch()
        } catch {
            fetchProblem = "\(error)"
        }
        let home = directory
        let fetched = armored
        do {
            let key = try await GPGMESession.run(on: queue, home: home) { session -> RecipientKey? in
                if let fetched { _ = try session.importKeys(Array(fetched.utf8)) }
                guard let listing = session.listing(of: fingerprint) else { return nil }
                return RecipientKey(listing: listing, exported: try session.export(fingerprint))
            }
            if let key {
                known[fingerprint] = (armored == nil ? nil : digest, key)
                return key
            }
        } catch {
            throw .gpg("\(error)")
        }
        if let fetchProblem { throw .notFetched(fetchProblem) }
        return nil
    }

    /// `plain` encrypted to `key` at `now`, ASCII-armoured.
    public nonisolated func encrypt(_ plain: [UInt8], to key: RecipientKey, at now: Date = Date())
        async throws -> [UInt8]
    {
        if let problem = key.problem(at: now) { throw problem }
        if let subkey = key.encryptionSubkey(at: now), let material = key.material[subkey.fingerprint],
           let binary = try? MessageEncryption.encrypt(plain, to: material, now: now)
        {
            return Array(Armor.message(binary).utf8)
        }
        let fingerprint = key.fingerprint
        let armored = try await GPGMESession.run(on: queue, home: directory) { session in
            try session.encrypt(plain, to: fingerprint)
        }
        return Self.crlf(armored)
    }

    /// gpg writes armour with bare LF line ends; mail needs CR LF.
    static func crlf(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count + text.count / 60 + 2)
        for (index, byte) in text.enumerated() {
            if byte == 10, index == 0 || text[index - 1] != 13 { out.append(13) }
            out.append(byte)
        }
        return out
    }
}
