import Foundation

/// Why a signature gives no pass before (or without) its cryptography: the result and a reason for the log.
struct DKIMRejection: Error, Sendable, Equatable {
    var result: DKIMResult
    var reason: String

    static func permerror(_ reason: String) -> DKIMRejection { DKIMRejection(result: .permerror, reason: reason) }
    static func policy(_ reason: String) -> DKIMRejection { DKIMRejection(result: .policy, reason: reason) }
}

/// The two canonicalizations of RFC 6376 §3.4.
enum DKIMCanonicalizationKind: String, Sendable, Hashable {
    case simple, relaxed
}

/// One DKIM-Signature field read and checked (RFC 6376 §3.5, §6.1.1).
struct DKIMSignature: Sendable {
    enum Algorithm: String, Sendable {
        case rsaSHA256 = "rsa-sha256"
        case ed25519SHA256 = "ed25519-sha256"

        /// The `k=` of the key records that go with it.
        var keyType: String { self == .rsaSHA256 ? "rsa" : "ed25519" }
    }

    var algorithm: Algorithm
    var signature: [UInt8]
    var bodyHash: [UInt8]
    var headerCanonicalization: DKIMCanonicalizationKind
    var bodyCanonicalization: DKIMCanonicalizationKind
    /// `d=`, lower-cased.
    var domain: String
    var selector: String
    /// `h=`, lower-cased, in order.
    var signedFields: [String]
    /// The domain part of `i=` (`d=` without one), lower-cased.
    var identityDomain: String
    /// `l=`: how many octets of the canonicalized body were signed; `nil` for all of them.
    var bodyLength: Int?

    /// `d=` and `s=` as far as they could be read: they name the verdict of a signature that is rejected.
    static func names(in value: String) -> (domain: String, selector: String) {
        guard let tags = TagList(value) else { return ("", "") }
        return ((tags["d"] ?? "").lowercased(), (tags["s"] ?? "").lowercased())
    }

    /// Reads the value of a DKIM-Signature field; `now` is the verification time for `x=`.
    static func parse(_ value: String, now: Date) throws(DKIMRejection) -> DKIMSignature {
        guard let tags = TagList(value) else { throw .permerror("the signature is not a valid tag list") }
        guard let version = tags["v"] else { throw .permerror("v= is missing") }
        guard version == "1" else { throw .permerror("unknown signature version v=\(version)") }
        for required in ["a", "b", "bh", "d", "h", "s"] where tags[required] == nil {
            throw .permerror("\(required)= is missing")
        }
        let domain = tags["d"]!.lowercased()
        let selector = tags["s"]!.lowercased()
        guard isDomainName(domain) else { throw .permerror("d= is not a domain name") }
        guard isDomainName(selector) else { throw .permerror("s= is not a selector") }

        let algorithmName = tags["a"]!.lowercased()
        if algorithmName == "rsa-sha1" { throw .policy("rsa-sha1 signatures are not accepted (RFC 8301)") }
        guard let algorithm = Algorithm(rawValue: algorithmName) else {
            throw .permerror("unsupported algorithm a=\(algorithmName)")
        }

        let (header, body) = try canonicalizations(tags["c"])
        if let methods = tags.list("q"), !methods.contains(where: { $0.lowercased() == "dns/txt" }) {
            throw .permerror("no supported query method in q=")
        }

        let signedFields = tags.list("h")!.map { $0.lowercased() }
        guard signedFields.contains("from") else { throw .permerror("h= does not include From") }
        guard signedFields.allSatisfy({ !$0.isEmpty }) else { throw .permerror("h= has an empty field name") }

        var identityDomain = domain
        if let identity = tags["i"] {
            guard let at = identity.lastIndex(of: "@") else { throw .permerror("i= has no @") }
            identityDomain = identity[identity.index(after: at)...].lowercased()
            guard identityDomain == domain || identityDomain.hasSuffix("." + domain) else {
                throw .permerror("i= is not in d= or a subdomain of it")
            }
        }

        var bodyLength: Int?
        if let length = tags["l"] {
            guard let count = decimal(length) else { throw .permerror("l= is not a number") }
            bodyLength = count
        }
        var timestamp: Int?
        if let text = tags["t"] {
            guard let seconds = decimal(text) else { throw .permerror("t= is not a number") }
            timestamp = seconds
        }
        if let expiry = tags["x"] {
            guard let seconds = decimal(expiry) else { throw .permerror("x= is not a number") }
            if let timestamp, seconds < timestamp { throw .permerror("x= is before t=") }
            if Double(seconds) < now.timeIntervalSince1970 { throw .permerror("the signature expired (x=)") }
        }

        guard let signature = base64(tags.compact("b")!), !signature.isEmpty else { throw .permerror("b= is not base64") }
        guard let bodyHash = base64(tags.compact("bh")!), !bodyHash.isEmpty else { throw .permerror("bh= is not base64") }

        return DKIMSignature(
            algorithm: algorithm, signature: signature, bodyHash: bodyHash, headerCanonicalization: header,
            bodyCanonicalization: body, domain: domain, selector: selector, signedFields: signedFields,
            identityDomain: identityDomain, bodyLength: bodyLength)
    }

    /// `c=`: `header/body`, or `header` alone (body simple); both simple without the tag.
    private static func canonicalizations(_ text: String?)
        throws(DKIMRejection) -> (DKIMCanonicalizationKind, DKIMCanonicalizationKind)
    {
        guard let text else { return (.simple, .simple) }
        let parts = text.lowercased().split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let header = DKIMCanonicalizationKind(rawValue: String(parts[0])),
              let body = parts.count == 2 ? DKIMCanonicalizationKind(rawValue: String(parts[1])) : .simple
        else { throw .permerror("unknown canonicalization c=\(text)") }
        return (header, body)
    }

    /// Digits only, at most 18 of them (l=, t= and x= allow 76 and 12; no real value needs more).
    static func decimal(_ text: String) -> Int? {
        guard !text.isEmpty, text.count <= 18, text.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }) else { return nil }
        return Int(text)
    }

    static func base64(_ text: String) -> [UInt8]? { Data(base64Encoded: text).map { Array($0) } }

    /// Letters, digits, hyphens and underscores in non-empty labels.
    static func isDomainName(_ name: String) -> Bool {
        guard !name.isEmpty, name.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.count <= 63
                && label.unicodeScalars.allSatisfy { $0.isASCIILetter || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" }
        }
    }
}
