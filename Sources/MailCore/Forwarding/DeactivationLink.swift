import Crypto
import Foundation

/// The link in a banner that deactivates an alias without logging in: `BASE/deactivate/ID?signature=S`,
/// S the first 16 bytes (hex) of HMAC-SHA256 over the alias id, keyed with a node secret. Any of the
/// secrets verifies, so links outlive a secret rotation as SRS addresses do.
public enum DeactivationLink {
    public static func make(base: String, aliasID: String, secret: String) -> String {
        let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
        return "\(trimmed)/deactivate/\(aliasID)?signature=\(signature(aliasID: aliasID, secret: secret))"
    }

    public static func signature(aliasID: String, secret: String) -> String {
        let key = SymmetricKey(data: Data(("postern-deactivate:" + secret).utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(aliasID.utf8), using: key)
        return mac.prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    public static func verify(aliasID: String, signature given: String, secrets: [String]) -> Bool {
        let given = Array(given.lowercased().utf8)
        return secrets.contains { secret in
            let expected = Array(signature(aliasID: aliasID, secret: secret).utf8)
            // Compared in constant time.
            guard expected.count == given.count else { return false }
            return zip(expected, given).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }
}
