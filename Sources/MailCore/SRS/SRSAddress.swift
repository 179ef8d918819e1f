import Crypto
import Foundation

/// Sender Rewriting Scheme (SRS) as postsrsd and libsrs2 write it, so a Postern node and a postsrsd
/// given the same secret produce and accept the same addresses.
///
/// - SRS0, for a sender forwarded once: `SRS0=HHHH=TT=orig.domain=origlocal@srs.domain`
/// - SRS1, for a sender that is already SRS0 from another forwarder:
///   `SRS1=HHHH=first.forwarder==HHHH=TT=orig.domain=origlocal@srs.domain`
///
/// `HHHH` is the first four characters of the base64 HMAC-SHA1 (keyed with the secret) over the
/// lower-cased fields; `TT` is the day number modulo 1024 in two base32 characters. Hashes compare
/// without regard to case, because mail systems may change the case of addresses.
public struct SRSRewriter: Sendable {
    public let domain: String
    /// The first signs; every one of them verifies (for rotation).
    public let secrets: [String]
    /// How long an SRS address stays valid, in days.
    public let maxAgeDays: Int

    public init(domain: String, secrets: [String], maxAgeDays: Int = 21) {
        precondition(!secrets.isEmpty, "SRS needs at least one secret")
        self.domain = domain.lowercased()
        self.secrets = secrets
        self.maxAgeDays = maxAgeDays
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case notSRS
        case malformed
        case badHash
        case expired

        public var description: String {
            switch self {
            case .notSRS: "not an SRS address"
            case .malformed: "malformed SRS address"
            case .badHash: "SRS hash does not match"
            case .expired: "SRS address has expired"
            }
        }
    }

    static let base32 = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    static let hashLength = 4

    /// The envelope sender for forwarding mail from `sender` through this relay. Senders in the SRS
    /// domain itself, and addresses this relay signed already, are left as they are (as postsrsd does).
    public func forward(_ sender: EmailAddress, now: Date = Date()) -> EmailAddress {
        if sender.domain.lowercased() == domain { return sender }
        if (try? reverse(sender, now: now)) != nil { return sender }
        let local = sender.localPart
        if let rest = Self.strip(prefix: "SRS0", from: local) {
            // Already SRS0 from another forwarder: keep its opaque part and name that forwarder.
            let opaque = String(rest)  // starts with the separator it used
            return EmailAddress(
                localPart: "SRS1=" + hash([sender.domain, opaque], secrets[0]) + "=" + sender.domain + "=" + opaque,
                domain: domain)
        }
        if let rest = Self.strip(prefix: "SRS1", from: local) {
            // SRS1 from another forwarder: keep the first forwarder and the opaque part, sign anew.
            let fields = rest.dropFirst().split(separator: "=", maxSplits: 2, omittingEmptySubsequences: false)
            if fields.count == 3, !fields[1].isEmpty {
                let firstHop = String(fields[1])
                let opaque = String(fields[2])
                return EmailAddress(
                    localPart: "SRS1=" + hash([firstHop, opaque], secrets[0]) + "=" + firstHop + "=" + opaque,
                    domain: domain)
            }
        }
        let stamp = Self.timestamp(now)
        return EmailAddress(
            localPart: "SRS0=" + hash([stamp, sender.domain, local], secrets[0]) + "=" + stamp + "=" + sender.domain
                + "=" + local,
            domain: domain)
    }

    /// Where a bounce to an SRS address of this relay goes: the original sender for SRS0, the first
    /// forwarder's SRS0 address for SRS1. The hash must verify with one of the secrets, and an SRS0
    /// address must be at most `maxAgeDays` old.
    public func reverse(_ address: EmailAddress, now: Date = Date()) throws(Failure) -> EmailAddress {
        let local = address.localPart
        if let rest = Self.strip(prefix: "SRS0", from: local) {
            let fields = rest.dropFirst().split(separator: "=", maxSplits: 3, omittingEmptySubsequences: false)
            guard fields.count == 4, !fields[2].isEmpty, !fields[3].isEmpty else { throw .malformed }
            let (givenHash, stamp, origDomain, origLocal) = (fields[0], String(fields[1]), String(fields[2]), String(fields[3]))
            guard verifies(givenHash, [stamp, origDomain, origLocal]) else { throw .badHash }
            guard let age = Self.age(of: stamp, now: now) else { throw .malformed }
            guard age <= maxAgeDays else { throw .expired }
            return EmailAddress(localPart: origLocal, domain: origDomain)
        }
        if let rest = Self.strip(prefix: "SRS1", from: local) {
            let fields = rest.dropFirst().split(separator: "=", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, !fields[1].isEmpty, fields[2].count > 1 else { throw .malformed }
            let (givenHash, firstHop, opaque) = (fields[0], String(fields[1]), String(fields[2]))
            guard verifies(givenHash, [firstHop, opaque]) else { throw .badHash }
            return EmailAddress(localPart: "SRS0" + opaque, domain: firstHop)
        }
        throw .notSRS
    }

    /// The local part after `SRS0`/`SRS1` (case-insensitive), when a separator (`=`, `+`, `-`) follows.
    static func strip(prefix: String, from local: String) -> Substring? {
        guard local.count > prefix.count + 1, local.prefix(prefix.count).uppercased() == prefix else { return nil }
        let rest = local.dropFirst(prefix.count)
        guard let separator = rest.first, "=+-".contains(separator) else { return nil }
        return rest
    }

    func hash(_ fields: [String], _ secret: String) -> String {
        let data = Data(fields.joined().lowercased().utf8)
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: data, using: SymmetricKey(data: Data(secret.utf8)))
        return String(Data(mac).base64EncodedString().prefix(Self.hashLength))
    }

    func verifies(_ given: Substring, _ fields: [String]) -> Bool {
        guard given.count == Self.hashLength else { return false }
        let lower = given.lowercased()
        return secrets.contains { hash(fields, $0).lowercased() == lower }
    }

    /// Today's day number modulo 1024, as two base32 characters.
    static func timestamp(_ now: Date) -> String {
        let day = Int((now.timeIntervalSince1970 / 86_400).rounded(.down)) & 1023
        return String([base32[day >> 5], base32[day & 31]])
    }

    /// Days since a timestamp was written (modulo 1024), or nil if it is not two base32 characters.
    static func age(of stamp: String, now: Date) -> Int? {
        let chars = Array(stamp.uppercased())
        guard chars.count == 2, let high = base32.firstIndex(of: chars[0]), let low = base32.firstIndex(of: chars[1]) else {
            return nil
        }
        let then = high << 5 | low
        let today = Int((now.timeIntervalSince1970 / 86_400).rounded(.down)) & 1023
        return (today - then + 1024) & 1023
    }
}
