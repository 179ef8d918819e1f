import Crypto

/// The public part of one (sub)key packet, version 4 (RFC 4880 §5.5.2, RFC 6637 §9), in the forms
/// Postern encrypts to itself: RSA, and ECDH over Curve25519 or NIST P-256/P-384/P-521. Other
/// algorithms are `.other`, and are encrypted to through GPGME.
struct PublicKeyMaterial: Equatable {
    enum Algorithm: Equatable {
        case rsa(modulus: [UInt8], exponent: [UInt8])
        /// `curveField`: the OID with its length octet, as the KDF parameters repeat it.
        case ecdh(curve: ECDHCurve, curveField: [UInt8], point: [UInt8], kdfHash: UInt8, kekAlgorithm: UInt8)
        case other(UInt8)
    }

    /// The packet body (from the version octet), which the fingerprint and the ECDH KDF are made of.
    var body: [UInt8]
    var algorithm: Algorithm

    /// SHA-1 over 0x99, the two-octet body length and the body (RFC 4880 §12.2).
    var fingerprint: [UInt8] {
        Array(Insecure.SHA1.hash(data: [0x99, UInt8(body.count >> 8 & 0xFF), UInt8(body.count & 0xFF)] + body))
    }

    var keyID: [UInt8] { Array(fingerprint.suffix(8)) }

    /// The key in a (sub)key packet body; nil for versions other than 4.
    init?(packetBody slice: ArraySlice<UInt8>) {
        let body = Array(slice)
        guard body.count > 6, body[0] == 4 else { return nil }
        self.body = body
        let algorithmID = body[5]
        var index = 6
        do {
            switch algorithmID {
            case 1, 2:  // RSA (encrypt or sign), RSA encrypt-only
                let n = try PacketFormat.mpi(body[...], at: &index)
                let e = try PacketFormat.mpi(body[...], at: &index)
                algorithm = .rsa(modulus: Array(n), exponent: Array(e))
            case 18:  // ECDH
                guard index < body.count else { return nil }
                let oidLength = Int(body[index])
                guard index + 1 + oidLength <= body.count else { return nil }
                let oid = Array(body[index + 1..<index + 1 + oidLength])
                index += 1 + oidLength
                let point = try PacketFormat.mpi(body[...], at: &index)
                // KDF parameters: length 3, reserved 1, hash algorithm, key-wrap algorithm.
                guard index + 4 <= body.count, body[index] == 3, body[index + 1] == 1 else { return nil }
                if let curve = ECDHCurve(oid: oid) {
                    algorithm = .ecdh(curve: curve, curveField: [UInt8(oidLength)] + oid, point: Array(point), kdfHash: body[index + 2], kekAlgorithm: body[index + 3])
                } else {
                    algorithm = .other(algorithmID)
                }
            default:
                algorithm = .other(algorithmID)
            }
        } catch {
            return nil
        }
    }
}

/// Curves an OpenPGP ECDH key can be on that Postern encrypts to natively.
enum ECDHCurve: Equatable {
    case curve25519, p256, p384, p521

    init?(oid: [UInt8]) {
        switch oid {
        case [0x2B, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01]: self = .curve25519
        case [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]: self = .p256
        case [0x2B, 0x81, 0x04, 0x00, 0x22]: self = .p384
        case [0x2B, 0x81, 0x04, 0x00, 0x23]: self = .p521
        default: return nil
        }
    }
}
