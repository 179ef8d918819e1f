import Foundation
import MailCore

/// What Postern learned about who sent a message: SPF for the envelope, DKIM for each signature,
/// and DMARC for the author's domain (the RFC 5322.From).
public struct MessageAuthentication: Sendable, Equatable {
    public var spf: SPFVerdict
    /// SPF checked the HELO name, as the reverse path was empty (RFC 7208 §2.4).
    public var spfCheckedHelo: Bool
    public var dkim: [DKIMVerdict]
    public var dmarc: DMARCVerdict
    /// The one From address, when there is exactly one.
    public var author: EmailAddress?
    /// The author's domain vouches for this message: DMARC passes, or, where the domain publishes no
    /// DMARC record, SPF or DKIM passes for the author's organisational domain (relaxed alignment).
    public var authorAuthenticated: Bool

    public init(spf: SPFVerdict, spfCheckedHelo: Bool, dkim: [DKIMVerdict], dmarc: DMARCVerdict, author: EmailAddress?,
                authorAuthenticated: Bool) {
        self.spf = spf
        self.spfCheckedHelo = spfCheckedHelo
        self.dkim = dkim
        self.dmarc = dmarc
        self.author = author
        self.authorAuthenticated = authorAuthenticated
    }

    /// A DNS failure kept the checks from deciding; asking again later may.
    public var undecided: Bool {
        !authorAuthenticated && (dmarc.result == .temperror
            || (dmarc.result == .none && (spf.result == .temperror || dkim.contains { $0.result == .temperror })))
    }

    /// The `Authentication-Results` field (RFC 8601) for `authservID`, the name of this node.
    public func field(authservID: String) -> [UInt8] {
        var results: [String] = []
        let spfIdentity = spfCheckedHelo ? "smtp.helo" : "smtp.mailfrom"
        results.append("spf=\(spf.result.rawValue) \(spfIdentity)=\(Self.token(spf.domain))")
        if dkim.isEmpty { results.append("dkim=none") }
        for signature in dkim.prefix(8) {
            var text = "dkim=\(signature.result.rawValue)"
            if !signature.domain.isEmpty { text += " header.d=\(Self.token(signature.domain))" }
            if !signature.selector.isEmpty { text += " header.s=\(Self.token(signature.selector))" }
            results.append(text)
        }
        var dmarcText = "dmarc=\(dmarc.result.rawValue)"
        if let policy = dmarc.policy { dmarcText += " (p=\(policy.rawValue))" }
        if !dmarc.fromDomain.isEmpty { dmarcText += " header.from=\(Self.token(dmarc.fromDomain))" }
        results.append(dmarcText)
        var out = "Authentication-Results: \(Self.token(authservID));"
        for (index, result) in results.enumerated() {
            out += "\r\n\t" + result + (index == results.count - 1 ? "" : ";")
        }
        return Array((out + "\r\n").utf8)
    }

    /// A value that cannot break the field: what is not a letter, digit, or one of `.-_@+=` is left
    /// out (a hostile selector or domain in a signature must not add results of its own).
    static func token(_ text: String) -> String {
        let kept = text.unicodeScalars.prefix(253).filter { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || ".-_@+=".unicodeScalars.contains($0)) }
        return kept.isEmpty ? "unknown" : String(String.UnicodeScalarView(kept))
    }

    /// Whether `message` carries this node's own finding that it failed an enforced DMARC policy (a
    /// message kept and sent again is not checked twice).
    public static func recordedEnforcedDMARCFailure(in message: [UInt8], authservID: String) -> Bool {
        guard let field = HeaderField.split(message).fields.first(where: { $0.isNamed("Authentication-Results") }),
              field.value.lowercased().hasPrefix(authservID.lowercased() + ";") else { return false }
        let value = field.value.lowercased()
        return value.contains("dmarc=fail (p=quarantine)") || value.contains("dmarc=fail (p=reject)")
    }

    /// `message` without `Authentication-Results` fields that claim to come from `authservID`: only
    /// this node may say what it found (RFC 8601 §5).
    public static func removingClaims(of authservID: String, from message: [UInt8]) -> [UInt8] {
        let (fields, bodyStart) = HeaderField.split(message)
        let ours = authservID.lowercased()
        func claimsOurs(_ field: HeaderField) -> Bool {
            guard field.isNamed("Authentication-Results") else { return false }
            let id = field.value.split(separator: ";", maxSplits: 1).first.map { $0.split(separator: " ").first.map(String.init) ?? "" } ?? ""
            return id.trimmingCharacters(in: .whitespaces).lowercased() == ours
        }
        guard fields.contains(where: claimsOurs) else { return message }
        var out: [UInt8] = []
        out.reserveCapacity(message.count)
        for field in fields where !claimsOurs(field) { out += field.raw }
        out += [13, 10]
        out += message[bodyStart...]
        return out
    }
}

/// Runs the checks on a received message: SPF and DKIM side by side, then DMARC.
public struct MailAuthenticator: Sendable {
    let spf: SPFEvaluator
    let dkim: DKIMVerifier
    let dmarc: DMARCEvaluator
    let suffixes: PublicSuffixList

    public init(dns: any MailAuthDNS, hostname: String, publicSuffixes: PublicSuffixList = .shipped) {
        spf = SPFEvaluator(dns: dns, receivingHost: hostname)
        dkim = DKIMVerifier(dns: dns)
        dmarc = DMARCEvaluator(dns: dns, publicSuffixes: publicSuffixes)
        suffixes = publicSuffixes
    }

    /// - Parameters:
    ///   - client: the connecting IP address as text.
    ///   - mailFrom: the reverse path; nil for the null sender.
    public func authenticate(_ message: [UInt8], client: String, helo: String, mailFrom: String?) async -> MessageAuthentication {
        async let spfVerdict = checkSPF(client: client, helo: helo, mailFrom: mailFrom)
        async let dkimVerdicts = dkim.verify(message)
        let froms = HeaderField.split(message).fields.filter { $0.isNamed("From") }
        let authors = froms.count == 1 ? AddressList(parsing: froms[0].value).mailboxes : []
        let author = authors.count == 1 ? authors[0].address : nil
        let spfResult = await spfVerdict
        let signatures = await dkimVerdicts
        guard let author else {
            let verdict = DMARCVerdict(result: .permerror, fromDomain: "", policy: nil, reason: "no single From address")
            return MessageAuthentication(spf: spfResult, spfCheckedHelo: mailFrom?.isEmpty ?? true, dkim: signatures, dmarc: verdict, author: nil, authorAuthenticated: false)
        }
        let fromDomain = author.domain.lowercased()
        let verdict = await dmarc.evaluate(fromDomain: fromDomain, spf: spfResult, dkim: signatures)
        var authenticated = verdict.result == .pass
        if verdict.result == .none {
            let organisation = suffixes.organizationalDomain(of: fromDomain)
            authenticated = (spfResult.result == .pass && suffixes.organizationalDomain(of: spfResult.domain) == organisation)
                || signatures.contains { $0.result == .pass && suffixes.organizationalDomain(of: $0.domain) == organisation }
        }
        return MessageAuthentication(spf: spfResult, spfCheckedHelo: mailFrom?.isEmpty ?? true, dkim: signatures, dmarc: verdict, author: author,
                                     authorAuthenticated: authenticated)
    }

    private func checkSPF(client: String, helo: String, mailFrom: String?) async -> SPFVerdict {
        guard let ip = IPAddress(client) else {
            return SPFVerdict(result: .none, domain: mailFrom.map { String($0.split(separator: "@").last ?? "") } ?? helo,
                              reason: "no IP address to check")
        }
        return await spf.check(ip: ip, helo: helo, mailFrom: mailFrom ?? "")
    }
}
