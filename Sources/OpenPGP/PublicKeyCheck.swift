import Foundation

/// Checks that a text is an ASCII-armoured OpenPGP public key that mail can be encrypted to, by
/// importing it into a throwaway keyring with GPGME, and tells its fingerprint. Secret keys are
/// refused: they must never be stored.
public enum PublicKeyCheck {
    public enum Problem: Error, Equatable, CustomStringConvertible {
        case notArmoredPublicKey
        case notAKey
        case secretKey
        case severalKeys
        case cannotEncrypt(KeyProblem)
        case engine(String)

        public var description: String {
            switch self {
            case .notArmoredPublicKey: "The key data must be an ASCII-armoured OpenPGP public key block."
            case .notAKey: "The key data is not a valid OpenPGP public key."
            case .secretKey: "The key data holds a secret key; send only the public key."
            case .severalKeys: "The key data must hold exactly one public key."
            case .cannotEncrypt(let problem): "Mail cannot be encrypted to this key: \(problem)."
            case .engine(let why): "The key could not be checked: \(why)"
            }
        }
    }

    private static let queue = DispatchQueue(label: "postern.keycheck", attributes: .concurrent)

    /// The key's fingerprint (upper-case hex), or why it is not acceptable. Runs gpg off the caller's thread.
    public static func fingerprint(of armored: String, at now: Date = Date()) async throws(Problem) -> String {
        guard armored.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----") else { throw .notArmoredPublicKey }
        if armored.contains("PRIVATE KEY BLOCK") { throw .secretKey }
        let home = NSTemporaryDirectory() + "postern-keycheck-" + UUID().uuidString
        do {
            try GPGMESession.prepare(home: home)
        } catch {
            throw .engine("no temporary keyring")
        }
        defer { try? FileManager.default.removeItem(atPath: home) }
        let result: Result<String, Problem>
        do {
            result = try await GPGMESession.run(on: queue, home: home) { session in
                let imported: (fingerprints: Set<String>, secretKeys: Int)
                do {
                    imported = try session.importKeys(Array(armored.utf8))
                } catch {
                    return .failure(.notAKey)
                }
                if imported.secretKeys > 0 { return .failure(.secretKey) }
                guard let fingerprint = imported.fingerprints.first else { return .failure(.notAKey) }
                guard imported.fingerprints.count == 1 else { return .failure(.severalKeys) }
                guard let listing = session.listing(of: fingerprint) else { return .failure(.notAKey) }
                let key = RecipientKey(listing: listing, exported: (try? session.export(fingerprint)) ?? [])
                if let problem = key.problem(at: now) { return .failure(.cannotEncrypt(problem)) }
                return .success(fingerprint)
            }
        } catch {
            throw .engine("\(error)")
        }
        return try result.get()
    }
}
