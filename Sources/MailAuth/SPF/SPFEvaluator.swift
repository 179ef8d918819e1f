import Foundation

/// The SPF check of RFC 7208: `check_host()` over `MailAuthDNS`, with its processing limits.
public struct SPFEvaluator: Sendable {
    let dns: any MailAuthDNS
    /// This host's name: the `r` macro of explanations.
    let receivingHost: String
    let now: @Sendable () -> Date

    public init(dns: any MailAuthDNS, receivingHost: String, now: @escaping @Sendable () -> Date = Date.init) {
        self.dns = dns
        self.receivingHost = receivingHost
        self.now = now
    }

    /// Checks the MAIL FROM identity, or `postmaster@HELO` when the reverse path is empty (§2.4).
    public func check(ip: IPAddress, helo: String, mailFrom: String) async -> SPFVerdict {
        let sender = SPFSender(mailFrom.isEmpty ? "postmaster@" + helo : mailFrom)
        let outcome = await evaluateIdentity(domain: sender.domain, SPFContext(ip: ip, sender: sender, helo: helo))
        return SPFVerdict(result: outcome.result, domain: sender.domain.lowercased(), reason: outcome.reason)
    }

    /// `check_host(<ip>, <domain>, <sender>)` of §4, with the HELO name for the `h` macro. The
    /// explanation comes with `fail` only, when the record names one with `exp=` and it can be read.
    public func checkHost(ip: IPAddress, domain: String, sender: String, helo: String) async
        -> (result: SPFResult, explanation: String?)
    {
        let outcome = await evaluateIdentity(domain: domain, SPFContext(ip: ip, sender: SPFSender(sender), helo: helo))
        return (outcome.result, outcome.explanation)
    }
}

/// What one `check_host()` concluded, and why (for the log).
struct SPFOutcome: Sendable {
    var result: SPFResult
    var reason: String
    var explanation: String? = nil
}

/// What stays the same through includes and redirects: the client, the sender, the HELO name.
struct SPFContext: Sendable {
    /// The client address, an IPv4-mapped IPv6 address as IPv4.
    var ip: IPAddress
    var sender: SPFSender
    var helo: String

    init(ip: IPAddress, sender: SPFSender, helo: String) {
        self.ip = ip.unmapped
        self.sender = sender
        self.helo = helo
    }
}

/// `<sender>` split into local part and domain; an empty local part is "postmaster" (§4.3).
struct SPFSender: Sendable {
    var localPart: String
    var domain: String

    init(_ address: String) {
        if let at = address.lastIndex(of: "@") {
            localPart = String(address[..<at])
            domain = String(address[address.index(after: at)...])
        } else {
            localPart = ""
            domain = address
        }
        if localPart.isEmpty { localPart = "postmaster" }
    }

    var address: String { localPart + "@" + domain }
}

/// The limits of one check, shared by every include and redirect it follows (§4.6.4).
struct SPFBudget: Sendable {
    static let dnsTermLimit = 10
    static let voidLookupLimit = 2

    private(set) var dnsTerms = 0
    private(set) var voidLookups = 0

    /// Counts a mechanism or modifier that asks the DNS: include, a, mx, ptr, exists, redirect.
    mutating func spendDNSTerm() throws(SPFAbort) {
        dnsTerms += 1
        if dnsTerms > Self.dnsTermLimit { throw .permerror("more than \(Self.dnsTermLimit) DNS lookups") }
    }

    /// Counts an answer with no records or "no such name".
    mutating func noteVoidLookup() throws(SPFAbort) {
        voidLookups += 1
        if voidLookups > Self.voidLookupLimit { throw .permerror("more than \(Self.voidLookupLimit) void lookups") }
    }
}

/// Ends the evaluation of a record with an error result.
enum SPFAbort: Error, Sendable {
    case temperror(String)
    case permerror(String)

    var outcome: SPFOutcome {
        switch self {
        case .temperror(let reason): SPFOutcome(result: .temperror, reason: reason)
        case .permerror(let reason): SPFOutcome(result: .permerror, reason: reason)
        }
    }
}
