import Crypto
import CryptoExtras
import Foundation

/// Encrypts data to one public key without running gpg: a version 3 public-key encrypted session key
/// packet and a version 1 symmetrically encrypted integrity-protected data packet (AES-256 in
/// OpenPGP CFB with a modification detection code, RFC 4880 §5.1, §5.13, §5.14), which every OpenPGP
/// implementation reads. The session key is new for every message.
enum MessageEncryption {
    enum Problem: Error, Equatable {
        /// The key's algorithm or size is not one encrypted to here (GPGME does it instead).
        case unsupported
        case badKey
    }

    static let aes256: UInt8 = 9

    /// The binary OpenPGP message holding `data` as a literal data packet.
    static func encrypt(_ data: [UInt8], to key: PublicKeyMaterial, now: Date = Date()) throws(Problem) -> [UInt8] {
        let sessionKey = SymmetricKey(size: .bits256)
        let keyBytes = sessionKey.withUnsafeBytes { Array($0) }
        let sessionPacket = try PacketFormat.packet(.publicKeyEncryptedSessionKey, encryptedSessionKey(keyBytes, to: key))
        return sessionPacket + PacketFormat.packet(.symmetricallyEncryptedIntegrityProtectedData,
                                                   integrityProtected(literalData(data, now: now), key: sessionKey))
    }

    /// The session key as RFC 4880 §5.1 wraps it: algorithm, key, two-octet sum of the key octets.
    static func sessionKeyBlock(_ key: [UInt8]) -> [UInt8] {
        let sum = key.reduce(0) { ($0 + Int($1)) & 0xFFFF }
        return [aes256] + key + [UInt8(sum >> 8), UInt8(sum & 0xFF)]
    }

    static func encryptedSessionKey(_ sessionKey: [UInt8], to key: PublicKeyMaterial) throws(Problem) -> [UInt8] {
        let block = sessionKeyBlock(sessionKey)
        var body: [UInt8] = [3] + key.keyID
        switch key.algorithm {
        case .rsa(let modulus, let exponent):
            let encrypted: Data
            do {
                // Below 2048 bits swift-crypto refuses the key; GPGME still encrypts to it.
                let publicKey = try _RSA.Encryption.PublicKey(n: modulus, e: exponent)
                encrypted = try publicKey.encrypt(block, padding: ._WEAK_AND_INSECURE_PKCS_V1_5)
            } catch {
                throw .unsupported
            }
            body += [key.body[5]] + PacketFormat.mpi(encrypted)  // the key's own RSA algorithm id (1 or 2)
        case .ecdh(let curve, let curveField, let point, let kdfHash, let kekAlgorithm):
            let (ephemeral, shared) = try agree(curve: curve, point: point)
            let kekSize: Int
            switch kekAlgorithm {
            case 7: kekSize = 16
            case 8: kekSize = 24
            case 9: kekSize = 32
            default: throw .unsupported
            }
            // RFC 6637 §7–8: KDF(Hash(00 00 00 01 ‖ Z ‖ Param)), Param naming the curve, the
            // algorithm, the KDF parameters, "Anonymous Sender    " and the recipient's fingerprint.
            let param = curveField + [18, 3, 1, kdfHash, kekAlgorithm] + Array("Anonymous Sender    ".utf8) + key.fingerprint
            let input = [0, 0, 0, 1] + shared + param
            let digest: [UInt8]
            switch kdfHash {
            case 8: digest = Array(SHA256.hash(data: input))
            case 9: digest = Array(SHA384.hash(data: input))
            case 10: digest = Array(SHA512.hash(data: input))
            default: throw .unsupported
            }
            guard digest.count >= kekSize else { throw .unsupported }
            let padding = 8 - block.count % 8
            let padded = block + [UInt8](repeating: UInt8(padding), count: padding)
            let wrapped: Data
            do {
                wrapped = try AES.KeyWrap.wrap(SymmetricKey(data: padded), using: SymmetricKey(data: digest.prefix(kekSize)))
            } catch {
                throw .badKey
            }
            body += [18] + PacketFormat.mpi(ephemeral) + [UInt8(wrapped.count)] + wrapped
        case .other:
            throw .unsupported
        }
        return body
    }

    /// A new ephemeral key on `curve`, in OpenPGP's encoding, and the shared secret with `point`.
    static func agree(curve: ECDHCurve, point: [UInt8]) throws(Problem) -> (ephemeral: [UInt8], shared: [UInt8]) {
        do {
            switch curve {
            case .curve25519:
                // 0x40, then the native (RFC 7748) public key.
                guard point.count == 33, point[0] == 0x40 else { throw Problem.badKey }
                let recipient = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: point.dropFirst())
                let ephemeral = Curve25519.KeyAgreement.PrivateKey()
                let shared = try ephemeral.sharedSecretFromKeyAgreement(with: recipient)
                return ([0x40] + ephemeral.publicKey.rawRepresentation, shared.withUnsafeBytes { Array($0) })
            case .p256:
                let ephemeral = P256.KeyAgreement.PrivateKey()
                let shared = try ephemeral.sharedSecretFromKeyAgreement(with: .init(x963Representation: point))
                return (Array(ephemeral.publicKey.x963Representation), shared.withUnsafeBytes { Array($0) })
            case .p384:
                let ephemeral = P384.KeyAgreement.PrivateKey()
                let shared = try ephemeral.sharedSecretFromKeyAgreement(with: .init(x963Representation: point))
                return (Array(ephemeral.publicKey.x963Representation), shared.withUnsafeBytes { Array($0) })
            case .p521:
                let ephemeral = P521.KeyAgreement.PrivateKey()
                let shared = try ephemeral.sharedSecretFromKeyAgreement(with: .init(x963Representation: point))
                return (Array(ephemeral.publicKey.x963Representation), shared.withUnsafeBytes { Array($0) })
            }
        } catch {
            throw .badKey
        }
    }

    /// A literal data packet: binary, no file name, the time.
    static func literalData(_ data: [UInt8], now: Date) -> [UInt8] {
        let time = UInt32(clamping: Int(max(0, now.timeIntervalSince1970)))
        var body: [UInt8] = [UInt8(ascii: "b"), 0, UInt8(time >> 24), UInt8(time >> 16 & 0xFF), UInt8(time >> 8 & 0xFF), UInt8(time & 0xFF)]
        body.reserveCapacity(data.count + 6)
        body += data
        return PacketFormat.packet(.literalData, body)
    }

    /// Version 1, then in CFB with a zero IV: 16 random octets, their last two again, the packets, and
    /// the MDC packet (SHA-1 of all that came before it and its own two header octets).
    static func integrityProtected(_ packets: [UInt8], key: SymmetricKey) -> [UInt8] {
        var plain: [UInt8] = (0..<16).map { _ in UInt8.random(in: 0...255) }
        plain += plain[14...15]
        plain.reserveCapacity(plain.count + packets.count + 22)
        plain += packets
        plain += [0xD3, 0x14]
        plain += Insecure.SHA1.hash(data: plain)
        // A zero IV of the right size and a 256-bit key are always accepted.
        let iv = try! AES._CFB.IV(ivBytes: [UInt8](repeating: 0, count: 16))
        return [1] + (try! AES._CFB.encrypt(plain, using: key, iv: iv))
    }
}

/// ASCII armour (RFC 4880 §6): base64 in lines of 64, and the CRC-24 checksum line.
enum Armor {
    static func message(_ binary: [UInt8]) -> String {
        var text = "-----BEGIN PGP MESSAGE-----\r\n\r\n"
        let encoded = Data(binary).base64EncodedString()
        var start = encoded.startIndex
        while start < encoded.endIndex {
            let end = encoded.index(start, offsetBy: 64, limitedBy: encoded.endIndex) ?? encoded.endIndex
            text += encoded[start..<end] + "\r\n"
            start = end
        }
        let crc = crc24(binary)
        text += "=" + Data([UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)]).base64EncodedString() + "\r\n"
        return text + "-----END PGP MESSAGE-----\r\n"
    }

    static func crc24(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xB704CE
        for byte in bytes {
            crc = (crc << 8 ^ crc24Table[Int(UInt8(truncatingIfNeeded: crc >> 16) ^ byte)]) & 0xFFFFFF
        }
        return crc
    }

    /// The CRC-24 of each octet value alone (polynomial 0x864CFB), so a message costs one step per octet.
    static let crc24Table: [UInt32] = (0..<256).map { value in
        var crc = UInt32(value) << 16
        for _ in 0..<8 {
            crc <<= 1
            if crc & 0x1000000 != 0 { crc ^= 0x1864CFB }
        }
        return crc & 0xFFFFFF
    }
}
