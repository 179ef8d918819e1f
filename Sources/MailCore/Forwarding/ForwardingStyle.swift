/// How an alias owner wants forwarded mail presented (SPEC §5): the display of `From`, whether replies
/// go through `Reply-To`, and where the banner goes. Stored with each queued copy, so delivery needs no
/// database.
public struct ForwardingStyle: Codable, Sendable, Hashable {
    /// The display name of the rewritten `From` (users.display_from_format).
    public enum FromDisplay: Int, Codable, Sendable, CaseIterable {
        /// `Bob Smith 'bob at example.com'`
        case nameAndAddress = 0
        /// `Bob Smith - bob(a)example.com`
        case nameDashAddress = 1
        /// `Bob Smith` (the address form when the sender gave no name)
        case nameOnly = 2
        /// `bob at example.com`
        case addressOnly = 3
        /// no display name: only the reverse alias
        case none = 4
    }

    public enum BannerLocation: String, Codable, Sendable, CaseIterable {
        case top, bottom, off
    }

    /// How a message that failed DMARC, where its author's domain asks for quarantine or reject, is
    /// marked (users.dmarc_fail_warning).
    public enum DMARCWarning: String, Codable, Sendable, CaseIterable {
        /// `[DMARC FAIL]` before the subject.
        case subject
        /// A warning at the top of the text.
        case banner
    }

    public var fromDisplay: FromDisplay
    /// `From: alias` and `Reply-To: reverse alias`, instead of the reverse alias in `From`.
    public var useReplyTo: Bool
    public var banner: BannerLocation
    /// Set on a queued copy only when its message failed an enforced DMARC policy and the owner
    /// wants it marked; nil otherwise (and in files written before it existed).
    public var dmarcWarning: DMARCWarning?

    public init(fromDisplay: FromDisplay = .nameAndAddress, useReplyTo: Bool = false, banner: BannerLocation = .off,
                dmarcWarning: DMARCWarning? = nil) {
        self.dmarcWarning = dmarcWarning
        self.fromDisplay = fromDisplay
        self.useReplyTo = useReplyTo
        self.banner = banner
    }

    /// The display name shown for a sender `name` (may be nil) with `address`, or nil for none.
    public func display(name: String?, address: EmailAddress) -> String? {
        let at = "\(address.localPart) at \(address.domain)"
        let name = name.flatMap { $0.isEmpty ? nil : $0 }
        switch fromDisplay {
        case .nameAndAddress: return name.map { "\($0) '\(at)'" } ?? at
        case .nameDashAddress: return name.map { "\($0) - \(address.localPart)(a)\(address.domain)" } ?? "\(address.localPart)(a)\(address.domain)"
        case .nameOnly: return name ?? at
        case .addressOnly: return at
        case .none: return nil
        }
    }
}
