import Foundation

/// Why a recipient's key cannot be encrypted to.
public enum KeyProblem: Error, Sendable, Equatable, CustomStringConvertible {
    case revoked
    case expired(Date?)
    /// It can sign or certify, but has no subkey for encryption.
    case noEncryptionSubkey
    /// gpg marks it disabled or invalid.
    case unusable
    /// Neither the database nor this node's keyring holds it any more.
    case missing

    public var description: String {
        switch self {
        case .revoked: "the key has been revoked"
        case .expired(let date?): "the key expired on \(ISO8601DateFormatter.string(from: date, timeZone: .gmt, formatOptions: [.withFullDate]))"
        case .expired(nil): "the key has expired"
        case .noEncryptionSubkey: "the key has no subkey that can encrypt (it can only sign)"
        case .unusable: "gpg reports the key as unusable"
        case .missing: "the key is no longer on file"
        }
    }
}

/// A recipient's public key as this node's keyring holds it: what gpg says about it, and the subkeys
/// Postern can encrypt to without gpg.
public struct RecipientKey: Sendable, Equatable {
    public let fingerprint: String
    let listing: KeyListing
    /// Subkey (or primary key) fingerprint → its key material, for those of a kind encrypted to here.
    let material: [String: PublicKeyMaterial]

    init(listing: KeyListing, exported: [UInt8]) {
        fingerprint = listing.fingerprint
        self.listing = listing
        var material: [String: PublicKeyMaterial] = [:]
        if let packets = try? PacketFormat.packets(in: exported) {
            for packet in packets where packet.tag == PacketTag.publicKey.rawValue || packet.tag == PacketTag.publicSubkey.rawValue {
                guard let key = PublicKeyMaterial(packetBody: packet.body) else { continue }
                if case .other = key.algorithm { continue }
                material[key.fingerprint.map { String($0, radix: 16, uppercase: true).leftPadded(2) }.joined()] = key
            }
        }
        self.material = material
    }

    /// The subkey mail is encrypted to at `now`: the newest valid one that can encrypt, as gpg chooses.
    func encryptionSubkey(at now: Date) -> KeyListing.Subkey? {
        guard problem(at: now) == nil else { return nil }
        // Newest first; at the same second a subkey before the primary key, as gpg prefers.
        let primary = listing.subkeys.first?.fingerprint
        return Self.usable(listing.subkeys, at: now)
            .max { ($0.created, $0.fingerprint != primary ? 1 : 0) < ($1.created, $1.fingerprint != primary ? 1 : 0) }
    }

    private static func usable(_ subkeys: [KeyListing.Subkey], at now: Date) -> [KeyListing.Subkey] {
        subkeys.filter { $0.canEncrypt && !$0.withdrawn && ($0.expires.map { $0 > now } ?? true) }
    }

    /// Why the key cannot be encrypted to at `now`; nil when it can.
    public func problem(at now: Date = Date()) -> KeyProblem? {
        if listing.revoked { return .revoked }
        if listing.disabledOrInvalid { return .unusable }
        if let primary = listing.subkeys.first, let expires = primary.expires, expires <= now { return .expired(expires) }
        let encrypting = listing.subkeys.filter(\.canEncrypt)
        if encrypting.isEmpty { return .noEncryptionSubkey }
        if !Self.usable(encrypting, at: now).isEmpty { return nil }
        if encrypting.allSatisfy(\.revoked) { return .revoked }
        let expired = encrypting.compactMap { $0.expires.flatMap { $0 <= now ? $0 : nil } }
        return expired.isEmpty ? .unusable : .expired(expired.max())
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
