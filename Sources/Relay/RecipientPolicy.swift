import Directory
import Logging
import MailCore
import SMTPCore

/// Where an accepted recipient's mail goes: the alias and the real mailboxes behind it.
public struct RecipientRoute: Sendable, Equatable {
    /// The address as the sender wrote it.
    public var alias: String
    public var aliasID: String
    public var userID: String
    public var destinations: [AliasRouting.Destination]
    public var style: ForwardingStyle
    /// For a bounce address (SRS0/SRS1 of `srs.domain` with a valid hash): the original sender it
    /// stands for. Such mail is read as a delivery report, never forwarded.
    public var bounceFor: String?
    /// For mail to a reverse alias (`ALIAS+LOCAL=DOMAIN@…`): that address. Whether the message goes to
    /// its destination, or to the alias's mailboxes like any other, is decided once its author is known.
    public var reverseAlias: ReverseAlias?
    /// The display name of mail sent from the alias.
    public var fromName: String?

    public init(alias: String, aliasID: String, userID: String, destinations: [AliasRouting.Destination],
                style: ForwardingStyle = .init(), bounceFor: String? = nil, reverseAlias: ReverseAlias? = nil,
                fromName: String? = nil) {
        self.reverseAlias = reverseAlias
        self.fromName = fromName
        self.alias = alias
        self.aliasID = aliasID
        self.userID = userID
        self.destinations = destinations
        self.style = style
        self.bounceFor = bounceFor
    }
}

public typealias InboundSession = SMTPServerSession<RecipientRoute>

/// The decision at RCPT time (SPEC §4): which recipients Postern takes mail for, and where it goes.
public struct RecipientPolicy: Sendable {
    /// What a decision was, for logs and counters.
    public enum Reason: String, Sendable, CaseIterable {
        case accepted, blocked, bounce, unknown_alias, deactivated, foreign_domain, over_bandwidth, over_rate,
             alias_limit, no_recipient, forged_srs, database_unavailable, mail_loop, unauthenticated_reply
    }

    let routing: MailRouting
    let sharedDomains: Set<String>
    let rootDomain: String
    let srs: SRSRewriter
    let logger: Logger
    /// Told when a user's mail is refused for a limit (the user, and which limit).
    let limitReached: @Sendable (String, Reason) async -> Void

    public init(routing: MailRouting, sharedDomains: [String], rootDomain: String, srs: SRSRewriter, logger: Logger,
                limitReached: @escaping @Sendable (String, Reason) async -> Void = { _, _ in }) {
        self.limitReached = limitReached
        self.routing = routing
        self.sharedDomains = Set(sharedDomains.map { $0.lowercased() })
        self.rootDomain = rootDomain.lowercased()
        self.srs = srs
        self.logger = logger
    }

    /// The decision when it needs no waiting: an SRS bounce address, or an alias whose routing the
    /// cache holds and that needs nothing written (nil otherwise: ask `decide`). Runs on the SMTP
    /// session's event loop, saving two trips through the task pool per recipient.
    public func decideNow(_ recipient: EmailAddress) -> (InboundSession.RecipientDecision, Reason)? {
        if let bounce = bounceDecision(recipient) { return bounce }
        guard let kept = routing.keptAlias(email: Self.lookupAddress(recipient)) else { return nil }
        let decision: (InboundSession.RecipientDecision, Reason)?
        if let alias = kept {
            decision = immediateDecision(recipient, alias: alias, reverseAlias: ReverseAlias(recipient))
        } else {
            decision = sharedDomains.contains(recipient.domain.lowercased()) ? (.reject(.unknownUser), .unknown_alias) : nil
        }
        if decision != nil { routing.countCacheHit() }
        return decision
    }

    private func bounceDecision(_ recipient: EmailAddress) -> (InboundSession.RecipientDecision, Reason)? {
        guard recipient.domain.lowercased() == srs.domain.lowercased(), Self.looksLikeSRS(recipient.localPart) else { return nil }
        do {
            let original = try srs.reverse(recipient)
            return (.accept(RecipientRoute(alias: recipient.description, aliasID: "", userID: "", destinations: [],
                                           bounceFor: original.description)), .bounce)
        } catch {
            return (.reject(.unknownUser), .forged_srs)
        }
    }

    public func decide(_ recipient: EmailAddress) async -> (InboundSession.RecipientDecision, Reason) {
        let domain = recipient.domain.lowercased()
        if let bounce = bounceDecision(recipient) { return bounce }
        do {
            let address = Self.lookupAddress(recipient)
            if let alias = try await routing.alias(email: address) {
                return try await decide(recipient, alias: alias, reverseAlias: ReverseAlias(recipient))
            }
            if sharedDomains.contains(domain) { return (.reject(.unknownUser), .unknown_alias) }
            if let owner = try await routing.catchAllOwner(domain: domain, rootDomain: rootDomain) {
                return try await createOnFirstReceipt(recipient, address: address, owner: owner)
            }
            if domain.hasSuffix("." + rootDomain) { return (.reject(.unknownUser), .unknown_alias) }
            return (.reject(.relayDenied), .foreign_domain)
        } catch {
            logger.warning("recipient lookup failed", metadata: ["error": "\(error)"])
            return (.reject(.databaseUnavailable), .database_unavailable)
        }
    }

    /// An alias on a username's subdomain or a custom domain that does not exist yet: created when the
    /// catch-all is on and the owner has not had too many new aliases this hour.
    private func createOnFirstReceipt(_ recipient: EmailAddress, address: String, owner: CatchAllOwner) async throws
        -> (InboundSession.RecipientDecision, Reason)
    {
        guard owner.catchAll else { return (.reject(.unknownUser), .unknown_alias) }
        guard owner.active else {
            return owner.rejectDeactivated ? (.reject(.unknownUser), .deactivated) : (.acceptAndDiscard, .blocked)
        }
        if owner.newAliasesPerHour > 0, owner.createdLastHour >= owner.newAliasesPerHour {
            await limitReached(owner.userID, .alias_limit)
            return (.reject(SMTPReply(450, "4.2.1", "Too many new aliases this hour, try again later")), .alias_limit)
        }
        let parts = address.split(separator: "@", maxSplits: 1)
        try await routing.createCatchAllAlias(localPart: String(parts[0]), domain: String(parts[1]), owner: owner)
        logger.info("alias created on first receipt", metadata: ["alias": "\(address)", "owner": "\(owner.kind.rawValue)"])
        guard let alias = try await routing.alias(email: address) else { return (.reject(.databaseUnavailable), .database_unavailable) }
        return try await decide(recipient, alias: alias)
    }

    private func decide(_ recipient: EmailAddress, alias: AliasRouting, reverseAlias: ReverseAlias? = nil) async throws
        -> (InboundSession.RecipientDecision, Reason)
    {
        if let decision = immediateDecision(recipient, alias: alias, reverseAlias: reverseAlias) { return decision }
        // What is left writes something first.
        if !alias.active {
            try? await routing.countBlocked(aliasID: alias.aliasID)
            return (.acceptAndDiscard, .blocked)
        }
        if alias.overRate {
            await limitReached(alias.userID, .over_rate)
            return (.reject(SMTPReply(452, "4.2.2", "The owner of this alias has had too many messages this hour, try again later")),
                    .over_rate)
        }
        await limitReached(alias.userID, .over_bandwidth)
        return (.reject(.overQuota), .over_bandwidth)
    }

    /// The decision for a known alias, or nil when it must first count a blocked message (deactivated,
    /// mail dropped) or tell the owner of a limit.
    private func immediateDecision(_ recipient: EmailAddress, alias: AliasRouting, reverseAlias: ReverseAlias?)
        -> (InboundSession.RecipientDecision, Reason)?
    {
        if alias.deleted || alias.unverifiedDomain { return (.reject(.unknownUser), .unknown_alias) }
        if !alias.active {
            return alias.rejectDeactivated ? (.reject(.unknownUser), .deactivated) : nil
        }
        if alias.overRate || alias.overBandwidth { return nil }
        guard !alias.destinations.isEmpty else {
            return (.reject(SMTPReply(550, "5.1.1", "Recipient address rejected: no verified mailbox")), .no_recipient)
        }
        // A reverse alias's mail is known by the alias itself (X-Postern-Alias, bounces, counters).
        let route = RecipientRoute(alias: reverseAlias == nil ? recipient.description : alias.email, aliasID: alias.aliasID,
                                   userID: alias.userID, destinations: alias.destinations, style: alias.style,
                                   reverseAlias: reverseAlias, fromName: alias.fromName)
        return (.accept(route), .accepted)
    }

    static func looksLikeSRS(_ localPart: String) -> Bool {
        let prefix = localPart.prefix(5).uppercased()
        return prefix == "SRS0=" || prefix == "SRS1="
    }

    /// The address to look up: a `+extension` on the local part is ignored (`shop+news@…` is `shop@…`).
    static func lookupAddress(_ recipient: EmailAddress) -> String {
        let local = recipient.localPart.split(separator: "+", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return "\(local)@\(recipient.domain.lowercased())"
    }
}
