/// The public suffix list (https://publicsuffix.org/list/) and the Organizational Domain of DMARC
/// (RFC 7489 §3.2): the public suffix of a domain plus one label.
///
/// Rules, one per line: `com.ac` (a normal rule), `*.ck` (any one label under `ck`), `!www.ck` (an
/// exception: `www.ck` is not a suffix, `ck` is). Of the rules matching a domain an exception wins,
/// otherwise the one with the most labels; with none, the default rule `*` makes the last label the
/// suffix. `//` comments and blank lines are skipped, so the list file itself is a valid input.
public struct PublicSuffixList: Sendable {
    private var normal: Set<String> = []
    /// `*.ck` as `ck`.
    private var wildcard: Set<String> = []
    /// `!www.ck` as `www.ck`.
    private var exception: Set<String> = []

    /// The list Postern ships, generated from the Debian package publicsuffix by
    /// scripts/update-public-suffixes (ICANN and private sections).
    /// The rules are `public_suffix_rules.txt`, embedded in the binary by SwiftPM.
    public static let shipped = PublicSuffixList(rules: String(decoding: PackageResources.public_suffix_rules_txt, as: UTF8.self))

    public init(rules: String) {
        for line in rules.split(whereSeparator: \.isNewline) {
            guard let word = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).first, !word.hasPrefix("//") else {
                continue
            }
            let rule = word.lowercased()
            if rule.hasPrefix("!") {
                exception.insert(String(rule.dropFirst()))
            } else if rule.hasPrefix("*.") {
                wildcard.insert(String(rule.dropFirst(2)))
            } else if rule != "*" {
                normal.insert(rule)
            }
        }
    }

    /// The public suffix of `domain` (lower-cased, without a final dot).
    public func publicSuffix(of domain: String) -> String {
        let labels = Self.labels(domain)
        guard !labels.isEmpty else { return "" }
        return labels[suffixStart(labels)...].joined(separator: ".")
    }

    /// The public suffix and one more label: `www.example.co.uk` → `example.co.uk`. A domain that is
    /// itself a public suffix is its own Organizational Domain.
    public func organizationalDomain(of domain: String) -> String {
        let labels = Self.labels(domain)
        guard !labels.isEmpty else { return "" }
        return labels[max(0, suffixStart(labels) - 1)...].joined(separator: ".")
    }

    /// Where the public suffix starts among `labels`.
    private func suffixStart(_ labels: [String]) -> Int {
        // Exceptions first: the suffix is the exception rule without its first label.
        for start in labels.indices where exception.contains(labels[start...].joined(separator: ".")) {
            return start + 1
        }
        // Then the longest normal or wildcard rule: the first match from the longest candidate.
        for start in labels.indices {
            if normal.contains(labels[start...].joined(separator: ".")) { return start }
            if start + 1 < labels.count, wildcard.contains(labels[(start + 1)...].joined(separator: ".")) { return start }
        }
        return labels.count - 1
    }

    private static func labels(_ domain: String) -> [String] {
        var name = domain.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        return name.split(separator: ".", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
    }
}
