/// The verdicts of the checks, as RFC 8601 (Authentication-Results) names them.

/// An SPF result (RFC 7208 §2.6).
public enum SPFResult: String, Sendable, Equatable {
    case none, neutral, pass, fail, softfail, temperror, permerror
}

/// What SPF said about one identity (MAIL FROM, or HELO when the reverse path is empty).
public struct SPFVerdict: Sendable, Equatable {
    public var result: SPFResult
    /// The domain checked: the MAIL FROM domain, or the HELO name.
    public var domain: String
    /// For the log and the Authentication-Results comment; never shown to the sender.
    public var reason: String

    public init(result: SPFResult, domain: String, reason: String = "") {
        self.result = result
        self.domain = domain
        self.reason = reason
    }
}

/// A DKIM result for one signature (RFC 6376 §6.1, RFC 8601 §2.7.1).
public enum DKIMResult: String, Sendable, Equatable {
    case none, pass, fail, policy, neutral, temperror, permerror
}

public struct DKIMVerdict: Sendable, Equatable {
    public var result: DKIMResult
    /// `d=`; empty when the signature could not be read far enough to name it.
    public var domain: String
    /// `s=`.
    public var selector: String
    public var reason: String
    /// `h=`, lower-cased, for a signature that passed: which fields it vouches for.
    public var signedFields: [String]

    public init(result: DKIMResult, domain: String, selector: String, reason: String = "", signedFields: [String] = []) {
        self.result = result
        self.domain = domain
        self.selector = selector
        self.reason = reason
        self.signedFields = signedFields
    }

    /// Verdicts are equal when they say the same of the same signature; `signedFields` is detail.
    public static func == (a: DKIMVerdict, b: DKIMVerdict) -> Bool {
        a.result == b.result && a.domain == b.domain && a.selector == b.selector && a.reason == b.reason
    }
}

/// A DMARC result (RFC 7489 §11.2).
public enum DMARCResult: String, Sendable, Equatable {
    case none, pass, fail, temperror, permerror
}

/// The policy a domain owner asks for (`p=`, `sp=`).
public enum DMARCPolicy: String, Sendable, Equatable {
    case none, quarantine, reject
}

public struct DMARCVerdict: Sendable, Equatable {
    public var result: DMARCResult
    /// The RFC 5322.From domain.
    public var fromDomain: String
    /// The policy that applies to this message (`sp=` for subdomains, after `pct=`); `nil` without a record.
    public var policy: DMARCPolicy?
    public var reason: String

    public init(result: DMARCResult, fromDomain: String, policy: DMARCPolicy?, reason: String = "") {
        self.result = result
        self.fromDomain = fromDomain
        self.policy = policy
        self.reason = reason
    }

    /// A failure whose owner asked for quarantine or reject: what the user's `[DMARC FAIL]` choice marks.
    public var failsWithEnforcement: Bool { result == .fail && (policy == .quarantine || policy == .reject) }
}
