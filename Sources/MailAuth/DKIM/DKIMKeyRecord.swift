import Crypto
import CryptoExtras
import Foundation

/// A public key published at `SELECTOR._domainkey.DOMAIN` (RFC 6376 §3.6.1, RFC 8463 §4), checked
/// against the signature that named it.
enum DKIMPublicKey: Sendable {
    case rsa(_RSA.Signing.PublicKey)
    case ed25519(Curve25519.Signing.PublicKey)

    /// RSA keys shorter than this give no pass (RFC 8301 §3.2).
    static let minimumRSABits = 1024

    /// Reads one TXT record for `signature`.
    static func parse(_ record: String, for signature: DKIMSignature) throws(DKIMRejection) -> DKIMPublicKey {
        guard let tags = TagList(record) else { throw .permerror("the key record is not a valid tag list") }
        if let version = tags["v"] {
            guard tags.first?.name == "v", version == "DKIM1" else { throw .permerror("the key record's v= is not DKIM1 first") }
        }
        if let hashes = tags.list("h"), !hashes.contains(where: { $0.lowercased() == "sha256" }) {
            throw .permerror("the key does not allow sha256 (h=)")
        }
        let keyType = (tags["k"] ?? "rsa").lowercased()
        guard keyType == signature.algorithm.keyType else {
            throw .permerror("the key is k=\(keyType), the signature a=\(signature.algorithm.rawValue)")
        }
        if let services = tags.list("s"), !services.contains(where: { $0 == "*" || $0.lowercased() == "email" }) {
            throw .permerror("the key is not for email (s=)")
        }
        if let flags = tags.list("t"), flags.contains("s"), signature.identityDomain != signature.domain {
            throw .permerror("the key requires i= in d= itself (t=s)")
        }
        guard let encoded = tags.compact("p") else { throw .permerror("the key record has no p=") }
        if encoded.isEmpty { throw .permerror("the key is revoked (empty p=)") }
        guard let data = DKIMSignature.base64(encoded) else { throw .permerror("p= is not base64") }

        switch signature.algorithm {
        case .rsaSHA256:
            guard let bits = RSAKeyDER.modulusBits(data) else { throw .permerror("p= is not an RSA public key") }
            if bits < minimumRSABits { throw .policy("the RSA key has \(bits) bits, under \(minimumRSABits) (RFC 8301)") }
            // The "unsafe" initializer takes keys from 1024 bits (the other one from 2048), SubjectPublicKeyInfo
            // or PKCS #1 RSAPublicKey.
            guard let key = try? _RSA.Signing.PublicKey(unsafeDERRepresentation: data) else {
                throw .permerror("p= is not a usable RSA public key")
            }
            return .rsa(key)
        case .ed25519SHA256:
            // RFC 8463 §4: the 32 octets of the key itself, not wrapped in SubjectPublicKeyInfo.
            guard data.count == 32, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: data) else {
                throw .permerror("p= is not an Ed25519 public key")
            }
            return .ed25519(key)
        }
    }

    /// Whether `signature` is this key's signature over the SHA-256 `digest` of the header hash input:
    /// RSASSA-PKCS1-v1_5 over the digest, or Ed25519 over the digest's 32 octets (RFC 8463 §3).
    func isValid(_ signature: [UInt8], digest: SHA256.Digest) -> Bool {
        switch self {
        case .rsa(let key):
            return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: digest,
                                        padding: .insecurePKCS1v1_5)
        case .ed25519(let key):
            return key.isValidSignature(signature, for: Data(digest))
        }
    }
}

/// Just enough DER to learn the modulus size of an RSA public key before handing it to swift-crypto, which
/// refuses short keys without saying why: SubjectPublicKeyInfo or PKCS #1 RSAPublicKey.
enum RSAKeyDER {
    static func modulusBits(_ der: [UInt8]) -> Int? {
        guard let outer = element(der[...], tag: 0x30) else { return nil }
        var modulus: ArraySlice<UInt8>
        if let first = outer.content.first, first == 0x30 {
            // SubjectPublicKeyInfo: the algorithm, then a BIT STRING holding the RSAPublicKey.
            guard let algorithm = element(outer.content, tag: 0x30),
                  let bits = element(outer.content[algorithm.end...], tag: 0x03), bits.content.first == 0,
                  let inner = element(bits.content.dropFirst(), tag: 0x30),
                  let integer = element(inner.content, tag: 0x02)
            else { return nil }
            modulus = integer.content
        } else {
            guard let integer = element(outer.content, tag: 0x02) else { return nil }
            modulus = integer.content
        }
        while modulus.first == 0 { modulus = modulus.dropFirst() }
        guard let top = modulus.first else { return nil }
        return (modulus.count - 1) * 8 + (8 - top.leadingZeroBitCount)
    }

    /// The element starting at the beginning of `bytes` if it has `tag`: its content and where it ends.
    private static func element(_ bytes: ArraySlice<UInt8>, tag: UInt8) -> (content: ArraySlice<UInt8>, end: Int)? {
        var index = bytes.startIndex
        guard index < bytes.endIndex, bytes[index] == tag else { return nil }
        index += 1
        guard index < bytes.endIndex else { return nil }
        var length = Int(bytes[index])
        index += 1
        if length & 0x80 != 0 {
            let count = length & 0x7f
            guard (1...3).contains(count), bytes.endIndex - index >= count else { return nil }
            length = 0
            for _ in 0..<count {
                length = length << 8 | Int(bytes[index])
                index += 1
            }
        }
        guard bytes.endIndex - index >= length else { return nil }
        return (bytes[index..<index + length], index + length)
    }
}
