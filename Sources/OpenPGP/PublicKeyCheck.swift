import CGPGME
import Foundation

/// Checks that a text is an ASCII-armoured OpenPGP public key, by importing it into a throwaway
/// keyring with GPGME, and tells its fingerprint. Secret keys are refused: they must never be stored.
public enum PublicKeyCheck {
    public enum Problem: Error, Equatable, CustomStringConvertible {
        case notArmoredPublicKey
        case notAKey
        case secretKey
        case severalKeys
        case engine(String)

        public var description: String {
            switch self {
            case .notArmoredPublicKey: "The key data must be an ASCII-armoured OpenPGP public key block."
            case .notAKey: "The key data is not a valid OpenPGP public key."
            case .secretKey: "The key data holds a secret key; send only the public key."
            case .severalKeys: "The key data must hold exactly one public key."
            case .engine(let why): "The key could not be checked: \(why)"
            }
        }
    }

    /// The key's fingerprint (upper-case hex), or why it is not acceptable. Runs gpg off the caller's thread.
    public static func fingerprint(of armored: String) async throws(Problem) -> String {
        guard armored.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----") else { throw .notArmoredPublicKey }
        if armored.contains("PRIVATE KEY BLOCK") { throw .secretKey }
        let result: Result<String, Problem> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: importedFingerprint(armored)) }
        }
        return try result.get()
    }

    static func importedFingerprint(_ armored: String) -> Result<String, Problem> {
        guard GPGME.version != nil else { return .failure(.engine("GPGME did not initialise")) }
        let home = NSTemporaryDirectory() + "postern-keycheck-" + UUID().uuidString
        do {
            try FileManager.default.createDirectory(
                atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            return .failure(.engine("no temporary keyring"))
        }
        defer { try? FileManager.default.removeItem(atPath: home) }
        var context: gpgme_ctx_t?
        guard gpgme_new(&context) == 0, let context else { return .failure(.engine("gpgme_new failed")) }
        defer { gpgme_release(context) }
        guard gpgme_ctx_set_engine_info(context, GPGME_PROTOCOL_OpenPGP, nil, home) == 0 else {
            return .failure(.engine("gpg is not installed"))
        }
        let bytes = Array(armored.utf8)
        var data: gpgme_data_t?
        let made = bytes.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                gpgme_data_new_from_mem(&data, $0, bytes.count, 1)  // 1: GPGME copies the bytes
            }
        }
        guard made == 0, let data else { return .failure(.engine("gpgme_data_new_from_mem failed")) }
        defer { gpgme_data_release(data) }
        guard gpgme_op_import(context, data) == 0, let result = gpgme_op_import_result(context) else {
            return .failure(.notAKey)
        }
        if result.pointee.secret_read > 0 { return .failure(.secretKey) }
        var fingerprints: [String] = []
        var entry = result.pointee.imports
        while let current = entry {
            if current.pointee.result == 0, let fpr = current.pointee.fpr { fingerprints.append(String(cString: fpr)) }
            entry = current.pointee.next
        }
        let unique = Set(fingerprints)
        guard !unique.isEmpty else { return .failure(.notAKey) }
        guard unique.count == 1 else { return .failure(.severalKeys) }
        return .success(unique.first!.uppercased())
    }
}
