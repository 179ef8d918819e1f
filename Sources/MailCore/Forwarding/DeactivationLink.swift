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
        NodeSignature.tag(aliasID, purpose: "deactivate", secret: secret)
    }

    public static func verify(aliasID: String, signature given: String, secrets: [String]) -> Bool {
        NodeSignature.verify(given, for: aliasID, purpose: "deactivate", secrets: secrets)
    }
}

/// Short HMAC-SHA256 tags (16 bytes, hex) with which a node vouches for a value it hands out, keyed
/// with its secrets and a purpose, so a tag made for one use is worth nothing for another.
public enum NodeSignature {
    public static func tag(_ value: String, purpose: String, secret: String) -> String {
        let key = SymmetricKey(data: Data(("postern-\(purpose):" + secret).utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(value.utf8), using: key)
        return lowercaseHex(mac.prefix(16))
    }

    /// Two lower-case hex digits per octet (`String(format:)` per octet cost more than the HMAC).
    public static func lowercaseHex(_ bytes: some Sequence<UInt8>) -> String {
        var digits: [UInt8] = []
        for byte in bytes {
            digits.append(hexDigits[Int(byte >> 4)])
            digits.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: digits, as: UTF8.self)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Whether `given` is the tag of `value` under any of `secrets`, compared in constant time.
    public static func verify(_ given: String, for value: String, purpose: String, secrets: [String]) -> Bool {
        let given = Array(given.lowercased().utf8)
        return secrets.contains { secret in
            let expected = Array(tag(value, purpose: purpose, secret: secret).utf8)
            guard expected.count == given.count else { return false }
            return zip(expected, given).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }

    /// The tag in `X-Postern-Reference` of a forwarded copy: a bounce that returns it to the same bounce
    /// address (the copy's SRS envelope sender) proves which alias it is about. Bound to that address,
    /// it expires with it.
    public static func bounceReference(alias: String, bounceAddress: String, secret: String) -> String {
        tag(bounceValue(alias: alias, bounceAddress: bounceAddress), purpose: "bounce", secret: secret)
    }

    public static func bounceValue(alias: String, bounceAddress: String) -> String {
        alias.lowercased() + " " + bounceAddress.lowercased()
    }
}
