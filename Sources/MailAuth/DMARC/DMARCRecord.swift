/// A DMARC policy record (RFC 7489 §6.3), with the tags the evaluation uses.
struct DMARCRecord: Sendable, Equatable {
    enum Alignment: String, Sendable {
        case relaxed = "r"
        case strict = "s"
    }

    /// `p=`.
    var policy: DMARCPolicy
    /// `sp=`; `nil` when absent (then `p=` applies to subdomains too).
    var subdomainPolicy: DMARCPolicy?
    var dkimAlignment: Alignment = .relaxed
    var spfAlignment: Alignment = .relaxed
    /// `pct=`: the share of failing messages the policy applies to.
    var percent: Int = 100
    /// Whether `p=` (or `sp=`) was invalid and the record is read as `p=none` because it has `rua=`.
    var readAsMonitoring = false

    /// Whether a TXT record is a DMARC record at all: its first tag is `v=DMARC1`. Others are ignored
    /// (§6.6.3).
    static func isDMARC(_ text: String) -> Bool {
        let start = text.drop { $0 == " " || $0 == "\t" }
        guard start.hasPrefix("v") else { return false }
        let afterName = start.dropFirst().drop { $0 == " " || $0 == "\t" }
        guard afterName.hasPrefix("=") else { return false }
        let value = afterName.dropFirst().drop { $0 == " " || $0 == "\t" }
        guard value.hasPrefix("DMARC1") else { return false }
        let rest = value.dropFirst(6).drop { $0 == " " || $0 == "\t" }
        return rest.isEmpty || rest.hasPrefix(";")
    }

    /// `nil` when DMARC does not apply: not a tag list, or without a valid `p=` (or with an invalid `sp=`)
    /// and no reporting address (§6.6.3 step 6).
    init?(_ text: String) {
        guard Self.isDMARC(text), let tags = TagList(text) else { return nil }
        let policy = tags["p"].flatMap { DMARCPolicy(rawValue: $0.lowercased()) }
        let subdomainPolicy = tags["sp"].map { DMARCPolicy(rawValue: $0.lowercased()) }
        if policy == nil || subdomainPolicy == .some(nil) {
            guard Self.hasReportingURI(tags["rua"]) else { return nil }
            self.policy = .none
            readAsMonitoring = true
        } else {
            self.policy = policy!
            self.subdomainPolicy = subdomainPolicy ?? nil
        }
        // Unknown alignment or pct values keep their defaults.
        if let mode = tags["adkim"].flatMap({ Alignment(rawValue: $0.lowercased()) }) { dkimAlignment = mode }
        if let mode = tags["aspf"].flatMap({ Alignment(rawValue: $0.lowercased()) }) { spfAlignment = mode }
        if let text = tags["pct"], let value = Int(text), (0...100).contains(value) { percent = value }
    }

    /// At least one syntactically valid URI (scheme ":" something) in a comma-separated `rua=`.
    private static func hasReportingURI(_ value: String?) -> Bool {
        guard let value else { return false }
        return value.split(separator: ",").contains { entry in
            let uri = TagList.trimFWS(entry)
            guard let colon = uri.firstIndex(of: ":"), colon != uri.startIndex, uri.index(after: colon) != uri.endIndex
            else { return false }
            let scheme = uri[..<colon].unicodeScalars
            return scheme.first!.isASCIILetter
                && scheme.allSatisfy { $0.isASCIILetter || ("0"..."9").contains($0) || "+-.".unicodeScalars.contains($0) }
        }
    }
}
