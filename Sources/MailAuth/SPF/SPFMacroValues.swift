import Foundation

/// The values of the macro letters (RFC 7208 §7.2).
extension SPFEvaluator {
    func macroValue(_ letter: Character, domain: String, _ context: SPFContext) async -> String {
        let ip = context.ip
        switch letter {
        case "s": return context.sender.address
        case "l": return context.sender.localPart
        case "o": return context.sender.domain
        case "d": return domain
        case "i": return ip.isIPv4 ? ip.description : ip.nibbles.joined(separator: ".")
        case "p": return await validatedName(of: ip, domain: domain)
        case "v": return ip.isIPv4 ? "in-addr" : "ip6"
        case "h": return context.helo
        case "c": return ip.description
        case "r": return receivingHost.isEmpty ? "unknown" : receivingHost
        case "t": return String(Int(now().timeIntervalSince1970))
        default: return ""
        }
    }

    /// `p`: a validated name of the client, preferring `domain`, then a name under it, then any
    /// (§7.3); "unknown" when there is none. It does not count against the lookup limits.
    private func validatedName(of ip: IPAddress, domain: String) async -> String {
        var scratch = SPFBudget()
        guard let names = try? await validatedNames(of: ip, &scratch, accepting: { _ in true }) else { return "unknown" }
        return names.first { $0 == domain } ?? names.first { SPFDomainName.isWithin($0, domain) } ?? names.first
            ?? "unknown"
    }
}

/// Checks on domain names as SPF uses them.
enum SPFDomainName {
    /// Lower case without a final dot, if a DNS query can be made of it: labels of 1 to 63
    /// characters, at most 253 in all.
    static func checked(_ name: String) -> String? {
        var name = Substring(name.lowercased())
        if name.hasSuffix(".") { name = name.dropLast() }
        guard !name.isEmpty, name.utf8.count <= 253 else { return nil }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.allSatisfy({ (1...63).contains($0.utf8.count) }) else { return nil }
        return String(name)
    }

    /// Whether `name` (already `checked`) can be the domain of a MAIL FROM or HELO identity (§4.3):
    /// at least two labels, none with characters other than letters, digits, "-" and "_" (so no
    /// address literal). Names made by macros are only held to `checked`.
    static func isMailDomain(_ name: String) -> Bool {
        let labels = name.split(separator: ".")
        return labels.count >= 2 && labels.allSatisfy { label in
            label.allSatisfy { !$0.isASCII || $0.isASCIIAlphanumeric || $0 == "-" || $0 == "_" }
        }
    }

    /// §4.8: a name longer than 253 characters loses labels from the left until it fits.
    static func truncated(_ name: String) -> String {
        var rest = Substring(name)
        while rest.utf8.count > 253, let dot = rest.firstIndex(of: ".") {
            rest = rest[rest.index(after: dot)...]
        }
        return String(rest)
    }

    /// Whether `name` is `domain` or a name under it.
    static func isWithin(_ name: String, _ domain: String) -> Bool {
        name == domain || name.hasSuffix("." + domain)
    }
}
