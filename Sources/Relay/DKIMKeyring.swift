import Foundation
import MailCore
import Synchronization

/// The signing keys of `dkim.keys_dir`: `DOMAIN/SELECTOR.pem`, made by `postern dkim generate`. Keys are
/// read when first needed and kept; a domain without a key is looked for again after a minute, so a key
/// generated while the node runs is used without a restart.
///
/// A domain without a key of its own (a user's custom domain) is signed with the key of
/// `fallbackDomain` (the root domain), as `d=` that domain: its owner publishes that key at
/// `SELECTOR._domainkey.DOMAIN`, as the custom-domain check asks.
public final class DKIMKeyring: Sendable {
    public let directory: String
    public let selector: String
    public let fallbackDomain: String?
    private let cache = Mutex<[String: (signer: DKIMSigner?, checked: ContinuousClock.Instant)]>([:])

    public init(directory: String, selector: String, fallbackDomain: String? = nil) {
        self.directory = directory
        self.selector = selector
        self.fallbackDomain = fallbackDomain?.lowercased()
    }

    public static func path(keysDirectory: String, domain: String, selector: String) -> String {
        "\(keysDirectory)/\(domain)/\(selector).pem"
    }

    /// The signer for `domain`, or nil when it has no key.
    public func signer(for domain: String) -> DKIMSigner? {
        let domain = domain.lowercased()
        let now = ContinuousClock.now
        if let cached = cache.withLock({ $0[domain] }), cached.signer != nil || now - cached.checked < .seconds(60) {
            return cached.signer
        }
        var signer: DKIMSigner?
        let path = Self.path(keysDirectory: directory, domain: domain, selector: selector)
        if !domain.contains("/"), !domain.hasPrefix("."), let pem = try? String(contentsOfFile: path, encoding: .utf8),
           let key = try? DKIMKey(pem: pem) {
            signer = DKIMSigner(domain: domain, selector: selector, key: key)
        } else if let fallbackDomain, fallbackDomain != domain, let fallback = self.signer(for: fallbackDomain) {
            signer = DKIMSigner(domain: domain, selector: selector, key: fallback.key)
        }
        cache.withLock { $0[domain] = (signer, now) }
        return signer
    }
}
