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
    /// SPF passed for the author's organisational domain: the message came from a host the author's
    /// domain sends from.
    public var authorSPF: Bool
    /// The signatures that passed for the author's organisational domain.
    public var authorSignatures: [DKIMVerdict]
    /// A DNS failure about the author's own domain kept the checks from deciding; asking again later
    /// may. Failures about other domains (a sender's own SPF that fails on purpose) do not count, so
    /// a temporary answer tells nothing about who the author is.
    public var undecided: Bool

    public init(spf: SPFVerdict, spfCheckedHelo: Bool, dkim: [DKIMVerdict], dmarc: DMARCVerdict, author: EmailAddress?,
                authorAuthenticated: Bool, authorSPF: Bool = false, authorSignatures: [DKIMVerdict] = [], undecided: Bool = false) {
        self.spf = spf
        self.spfCheckedHelo = spfCheckedHelo
        self.dkim = dkim
        self.dmarc = dmarc
        self.author = author
        self.authorAuthenticated = authorAuthenticated
        self.authorSPF = authorSPF
        self.authorSignatures = authorSignatures
        self.undecided = undecided
    }

    /// Whether the author vouches for sending `message` to `recipient` (a reverse alias): SPF passed
    /// for the author's domain, or one of the author's signatures covers a `To` or `Cc` field naming
    /// `recipient`. A signed message the author once sent elsewhere, replayed to a reverse alias,
    /// names another recipient in its signed fields, and so vouches for nothing.
    public func vouches(for recipient: String, in message: [UInt8]) -> Bool {
        guard authorAuthenticated else { return false }
        if authorSPF { return true }
        let fields = HeaderField.split(message).fields
        let wanted = recipient.lowercased()
        return authorSignatures.contains { signature in
            ["to", "cc"].contains { name in
                // h= takes instances from the bottom up: the last k of a name are the signed ones.
                let signedCount = signature.signedFields.filter { $0 == name }.count
                return fields.filter { $0.isNamed(name) }.suffix(signedCount).contains { field in
                    AddressList(parsing: field.value).mailboxes.contains { $0.address.description.lowercased() == wanted }
                }
            }
        }
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
        var kept: [UInt8] = []
        for octet in text.utf8.prefix(253) where tokenOctets[Int(octet)] { kept.append(octet) }
        return kept.isEmpty ? "unknown" : String(decoding: kept, as: UTF8.self)
    }

    /// ASCII letters, digits and `.-_@+=`; every octet of a non-ASCII scalar is left out.
    private static let tokenOctets: [Bool] = (0..<256).map { octet in
        (48...57).contains(octet) || (65...90).contains(octet) || (97...122).contains(octet) || Array(".-_@+=".utf8).contains(UInt8(octet))
    }

    /// The author of a message: the mailbox of its one From field when that names exactly one; nil
    /// otherwise (no From, two of them, or a list).
    public static func singleAuthor(of message: [UInt8]) -> EmailAddress? {
        singleAuthor(HeaderField.split(message).fields.filter { $0.isNamed("From") })
    }

    static func singleAuthor(_ froms: [HeaderField]) -> EmailAddress? {
        let mailboxes = froms.count == 1 ? AddressList(parsing: froms[0].value).mailboxes : []
        return mailboxes.count == 1 ? mailboxes[0].address : nil
    }

    /// The authserv-id a field value starts with, lower-cased: comments and blanks before it skipped
    /// (RFC 8601 §2.2 allows CFWS there), ending at a blank, `;` or a comment.
    static func authservID(of value: String) -> String {
        var depth = 0
        var id = ""
        for character in value {
            if depth > 0 {
                if character == "(" { depth += 1 } else if character == ")" { depth -= 1 }
                continue
            }
            if character == "(" {
                if !id.isEmpty { break }
                depth = 1
            } else if character == " " || character == "\t" {
                if !id.isEmpty { break }
            } else if character == ";" {
                break
            } else {
                id.append(character)
            }
        }
        return id.lowercased()
    }

    /// Whether `message` carries this node's own finding that it failed an enforced DMARC policy (a
    /// message kept and sent again is not checked twice).
    public static func recordedEnforcedDMARCFailure(in message: [UInt8], authservID: String) -> Bool {
        guard let field = HeaderField.split(message).fields.first(where: { $0.isNamed("Authentication-Results") }),
              Self.authservID(of: field.value) == authservID.lowercased() else { return false }
        let value = field.value.lowercased()
        return value.contains("dmarc=fail (p=quarantine)") || value.contains("dmarc=fail (p=reject)")
    }

    /// `message` without `Authentication-Results` fields that claim to come from `authservID`: only
    /// this node may say what it found (RFC 8601 §5).
    public static func removingClaims(of authservID: String, from message: [UInt8]) -> [UInt8] {
        let (fields, bodyStart) = HeaderField.split(message)
        let ours = authservID.lowercased()
        func claimsOurs(_ field: HeaderField) -> Bool { field.isNamed("Authentication-Results") && Self.authservID(of: field.value) == ours }
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
        let author = MessageAuthentication.singleAuthor(froms)
        let spfResult = await spfVerdict
        let signatures = await dkimVerdicts
        guard let author else {
            // No single author: nobody may send as an alias with it, and when the named domains fail
            // DMARC, the strictest of their policies applies (RFC 7489 §6.6.1), so the owner's mark
            // cannot be dodged with a second From.
            var verdict = DMARCVerdict(result: .permerror, fromDomain: "", policy: nil, reason: "no single From address")
            let domains = Set(froms.prefix(4).flatMap { AddressList(parsing: $0.value).mailboxes.prefix(4).map { $0.address.domain.lowercased() } })
            func strictness(_ policy: DMARCPolicy?) -> Int { policy == .reject ? 2 : policy == .quarantine ? 1 : 0 }
            for domain in domains.sorted() {
                let each = await dmarc.evaluate(fromDomain: domain, spf: spfResult, dkim: signatures)
                if each.result == .fail, verdict.result != .fail || strictness(each.policy) > strictness(verdict.policy) {
                    verdict = each
                    verdict.reason = "several authors; " + each.reason
                }
            }
            return MessageAuthentication(spf: spfResult, spfCheckedHelo: mailFrom?.isEmpty ?? true, dkim: signatures,
                                         dmarc: verdict, author: nil, authorAuthenticated: false)
        }
        let fromDomain = author.domain.lowercased()
        let verdict = await dmarc.evaluate(fromDomain: fromDomain, spf: spfResult, dkim: signatures)
        let organisation = suffixes.organizationalDomain(of: fromDomain)
        func aligned(_ domain: String) -> Bool { suffixes.organizationalDomain(of: domain.lowercased()) == organisation }
        let authorSPF = spfResult.result == .pass && aligned(spfResult.domain)
        let authorSignatures = signatures.filter { $0.result == .pass && aligned($0.domain) }
        let authenticated = verdict.result == .pass || (verdict.result == .none && (authorSPF || !authorSignatures.isEmpty))
        let undecided = !authenticated && (verdict.result == .temperror
            || (verdict.result == .none && ((spfResult.result == .temperror && aligned(spfResult.domain))
                || signatures.contains { $0.result == .temperror && aligned($0.domain) })))
        return MessageAuthentication(
            spf: spfResult, spfCheckedHelo: mailFrom?.isEmpty ?? true, dkim: signatures, dmarc: verdict, author: author,
            authorAuthenticated: authenticated, authorSPF: authorSPF, authorSignatures: authorSignatures, undecided: undecided)
    }

    private func checkSPF(client: String, helo: String, mailFrom: String?) async -> SPFVerdict {
        guard let ip = IPAddress(client) else {
            return SPFVerdict(result: .none, domain: mailFrom.map { String($0.split(separator: "@").last ?? "") } ?? helo,
                              reason: "no IP address to check")
        }
        return await spf.check(ip: ip, helo: helo, mailFrom: mailFrom ?? "")
    }
}
