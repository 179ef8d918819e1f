import Crypto
import CryptoExtras
import Foundation

/// A DKIM signing key: RSA (rsa-sha256) or Ed25519 (ed25519-sha256, RFC 8463), kept as PEM
/// (PKCS #8 `PRIVATE KEY`, which openssl reads too).
public struct DKIMKey: Sendable {
    public enum Algorithm: String, Sendable, CaseIterable {
        case rsa
        case ed25519

        /// The `a=` tag.
        public var tag: String { self == .rsa ? "rsa-sha256" : "ed25519-sha256" }
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case unreadable
        case signing(String)

        public var description: String {
            switch self {
            case .unreadable: "not a PEM RSA or Ed25519 private key"
            case .signing(let text): "signing failed: \(text)"
            }
        }
    }

    private enum Backing: Sendable {
        case rsa(_RSA.Signing.PrivateKey)
        case ed25519(Curve25519.Signing.PrivateKey)
    }

    private let backing: Backing
    /// The same RSA key in the system's libcrypto, which signs faster (`OpenSSLRSAKey`); nil for
    /// Ed25519, or when libcrypto cannot read the key (swift-crypto signs then).
    private let systemRSA: OpenSSLRSAKey?

    /// The DER prefix of a PKCS #8 Ed25519 private key; the 32-byte seed follows (RFC 8410).
    private static let ed25519Prefix: [UInt8] = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
                                                 0x04, 0x22, 0x04, 0x20]

    /// Whether RSA signatures are made by the system's libcrypto.
    var usesSystemRSA: Bool { systemRSA != nil }

    /// libcrypto's signature alone (no fallback), for tests.
    func systemRSASignature(_ data: [UInt8]) -> [UInt8]? { systemRSA?.sign(sha256: Array(SHA256.hash(data: data))) }

    public var algorithm: Algorithm {
        if case .rsa = backing { return .rsa }
        return .ed25519
    }

    public static func generate(_ algorithm: Algorithm) throws -> DKIMKey {
        switch algorithm {
        case .rsa:
            let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            return DKIMKey(backing: .rsa(key), systemRSA: OpenSSLRSAKey(pem: key.pemRepresentation))
        case .ed25519: return DKIMKey(backing: .ed25519(Curve25519.Signing.PrivateKey()), systemRSA: nil)
        }
    }

    private init(backing: Backing, systemRSA: OpenSSLRSAKey?) {
        self.backing = backing
        self.systemRSA = systemRSA
    }

    public init(pem: String) throws(Failure) {
        let lines = pem.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        let body = lines.filter { !$0.hasPrefix("-----") }.joined()
        if let der = Data(base64Encoded: body), der.count == Self.ed25519Prefix.count + 32,
           Array(der.prefix(Self.ed25519Prefix.count)) == Self.ed25519Prefix,
           let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: der.suffix(32)) {
            backing = .ed25519(key)
            systemRSA = nil
            return
        }
        guard let key = try? _RSA.Signing.PrivateKey(pemRepresentation: pem) else { throw .unreadable }
        backing = .rsa(key)
        systemRSA = OpenSSLRSAKey(pem: pem)
    }

    public var pemRepresentation: String {
        switch backing {
        case .rsa(let key): return key.pemRepresentation
        case .ed25519(let key):
            let der = Data(Self.ed25519Prefix + key.rawRepresentation)
            let text = der.base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
            return "-----BEGIN PRIVATE KEY-----\n\(text)\n-----END PRIVATE KEY-----\n"
        }
    }

    /// The TXT record of `SELECTOR._domainkey.DOMAIN`: `v=DKIM1; k=…; p=…`.
    public var dnsRecord: String {
        switch backing {
        case .rsa(let key): "v=DKIM1; k=rsa; p=\(key.publicKey.derRepresentation.base64EncodedString())"
        case .ed25519(let key): "v=DKIM1; k=ed25519; p=\(key.publicKey.rawRepresentation.base64EncodedString())"
        }
    }

    /// The signature over `data`: RSASSA-PKCS1-v1_5 with SHA-256, or Ed25519 over the SHA-256 of the data.
    func sign(_ data: [UInt8], bySwiftCrypto: Bool = false) throws(Failure) -> [UInt8] {
        let digest = SHA256.hash(data: data)
        if !bySwiftCrypto, let systemRSA, let signature = systemRSA.sign(sha256: Array(digest)) { return signature }
        do {
            switch backing {
            case .rsa(let key):
                return Array(try key.signature(for: digest, padding: .insecurePKCS1v1_5).rawRepresentation)
            case .ed25519(let key):
                return Array(try key.signature(for: Data(digest)))
            }
        } catch {
            throw .signing("\(error)")
        }
    }
}
