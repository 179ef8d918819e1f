/// The address a recipient replies to so the reply leaves through the alias (SPEC §3):
/// `ALIASLOCAL+DESTLOCAL=DESTDOMAIN@ALIASDOMAIN`, e.g. `shop+bob=example.com@jane.relay.example`.
/// The last `=` before the `@` stands for the destination's `@`; the destination's local part may
/// itself hold `+` and `=`. The format is addy.io's.
public struct ReverseAlias: Sendable, Hashable, CustomStringConvertible {
    /// The alias, without any `+extension` its sender wrote.
    public let alias: EmailAddress
    /// Where a reply to it goes.
    public let destination: EmailAddress

    public init(alias: EmailAddress, destination: EmailAddress) {
        let local = alias.localPart.split(separator: "+", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        self.alias = EmailAddress(localPart: local, domain: alias.domain.lowercased())
        self.destination = destination
    }

    /// Reads a reverse alias; nil when `address` does not have the form.
    public init?(_ address: EmailAddress) {
        let local = address.localPart
        guard let plus = local.firstIndex(of: "+"), let equals = local.lastIndex(of: "="), plus < equals else { return nil }
        let aliasLocal = String(local[..<plus])
        let destinationLocal = String(local[local.index(after: plus)..<equals])
        let destinationDomain = String(local[local.index(after: equals)...])
        guard !aliasLocal.isEmpty, let destination = try? EmailAddress(parsing: destinationLocal + "@" + destinationDomain)
        else { return nil }
        self.alias = EmailAddress(localPart: aliasLocal, domain: address.domain.lowercased())
        self.destination = destination
    }

    public var address: EmailAddress {
        EmailAddress(localPart: "\(alias.localPart)+\(destination.localPart)=\(destination.domain)", domain: alias.domain)
    }

    public var description: String { address.description }
}
