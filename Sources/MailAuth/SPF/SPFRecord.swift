/// A parsed `v=spf1` record (RFC 7208 §4.5, §12): directives in order, and the two modifiers that mean
/// something. Unknown modifiers are checked for syntax and dropped.
struct SPFRecord: Sendable, Equatable {
    enum Qualifier: Character, Sendable {
        case pass = "+", fail = "-", softfail = "~", neutral = "?"

        var result: SPFResult {
            switch self {
            case .pass: .pass
            case .fail: .fail
            case .softfail: .softfail
            case .neutral: .neutral
            }
        }
    }

    /// The prefix lengths of `a` and `mx`: `/24//64`.
    struct DualCIDR: Sendable, Equatable {
        var ipv4 = 32
        var ipv6 = 128
    }

    enum Mechanism: Sendable, Equatable {
        case all
        case include(SPFMacroString)
        case a(SPFMacroString?, DualCIDR)
        case mx(SPFMacroString?, DualCIDR)
        case ptr(SPFMacroString?)
        case ip4(IPAddress, prefixLength: Int)
        case ip6(IPAddress, prefixLength: Int)
        case exists(SPFMacroString)

        /// Whether evaluating it asks the DNS, and so counts against the limit of ten (§4.6.4).
        var asksDNS: Bool {
            switch self {
            case .include, .a, .mx, .ptr, .exists: true
            case .all, .ip4, .ip6: false
            }
        }
    }

    struct Directive: Sendable, Equatable {
        var qualifier: Qualifier
        var mechanism: Mechanism
        /// The term as written, for the verdict's reason.
        var text: String
    }

    var directives: [Directive] = []
    var redirect: SPFMacroString?
    var explanation: SPFMacroString?

    /// Whether a TXT string is an SPF record: `v=spf1` alone or followed by a space (§4.5).
    static func isSPF(_ text: String) -> Bool {
        let version = text.prefix(6)
        guard version.lowercased() == "v=spf1" else { return false }
        return text.count == 6 || text.dropFirst(6).first == " "
    }

    /// Reads a record that `isSPF` accepted; any syntax error anywhere is a permerror (§4.6).
    init(parsing text: String) throws(SPFSyntaxError) {
        guard Self.isSPF(text) else { throw SPFSyntaxError("not a v=spf1 record") }
        for term in text.dropFirst(6).split(separator: " ") {
            if let equals = Self.modifierSeparator(term) {
                try addModifier(name: term[..<equals].lowercased(), value: term[term.index(after: equals)...])
            } else {
                directives.append(try Self.directive(term))
            }
        }
    }

    /// The position of "=" when `term` is a modifier: a `name` (ALPHA then ALPHA, DIGIT, "-", "_",
    /// ".") directly followed by "=".
    private static func modifierSeparator(_ term: Substring) -> Substring.Index? {
        guard let first = term.first, first.isASCII, first.isLetter else { return nil }
        let end = term.firstIndex { !($0.isASCIIAlphanumeric || $0 == "-" || $0 == "_" || $0 == ".") }
        guard let end, term[end] == "=" else { return nil }
        return end
    }

    private mutating func addModifier(name: String, value: Substring) throws(SPFSyntaxError) {
        switch name {
        case "redirect", "exp":
            let domain = try SPFMacroString(value)
            guard domain.isDomainSpec else { throw SPFSyntaxError("\(name)= needs a domain, not \"\(value)\"") }
            if name == "redirect" {
                guard redirect == nil else { throw SPFSyntaxError("more than one redirect=") }
                redirect = domain
            } else {
                guard explanation == nil else { throw SPFSyntaxError("more than one exp=") }
                explanation = domain
            }
        default:
            _ = try SPFMacroString(value)  // unknown modifiers are ignored, but must still be well formed
        }
    }

    private static func directive(_ term: Substring) throws(SPFSyntaxError) -> Directive {
        var rest = term
        var qualifier = Qualifier.pass
        if let first = rest.first, let explicit = Qualifier(rawValue: first) {
            qualifier = explicit
            rest = rest.dropFirst()
        }
        let nameEnd = rest.firstIndex { $0 == ":" || $0 == "/" } ?? rest.endIndex
        let name = rest[..<nameEnd].lowercased()
        var argument = rest[nameEnd...]
        // The part after ":", if any, and the CIDR suffix.
        var target: Substring? = nil
        if argument.first == ":" {
            argument = argument.dropFirst()
            let (domain, cidr) = splitCIDR(argument)
            target = domain
            argument = cidr
        }
        let mechanism: Mechanism
        switch name {
        case "all":
            guard target == nil, argument.isEmpty else { throw SPFSyntaxError("all takes no argument: \(term)") }
            mechanism = .all
        case "include", "exists":
            guard let target, argument.isEmpty else { throw SPFSyntaxError("\(name) needs a domain: \(term)") }
            let domain = try domainSpec(target)
            mechanism = name == "include" ? .include(domain) : .exists(domain)
        case "a", "mx":
            let domain = try target.map { (text) throws(SPFSyntaxError) in try domainSpec(text) }
            let cidr = try dualCIDR(argument)
            mechanism = name == "a" ? .a(domain, cidr) : .mx(domain, cidr)
        case "ptr":
            guard argument.isEmpty else { throw SPFSyntaxError("ptr takes no prefix length: \(term)") }
            mechanism = .ptr(try target.map { (text) throws(SPFSyntaxError) in try domainSpec(text) })
        case "ip4", "ip6":
            // The network is all after ":", whatever splitCIDR made of it.
            guard rest[nameEnd...].first == ":" else { throw SPFSyntaxError("\(name) needs a network: \(term)") }
            mechanism = try network(ipv4: name == "ip4", rest[rest.index(after: nameEnd)...])
        default:
            throw SPFSyntaxError("unknown mechanism \(name)")
        }
        return Directive(qualifier: qualifier, mechanism: mechanism, text: String(term))
    }

    /// `ip4-network [ ip4-cidr-length ]`, or the same for IPv6.
    private static func network(ipv4: Bool, _ text: Substring) throws(SPFSyntaxError) -> Mechanism {
        let slash = text.firstIndex(of: "/") ?? text.endIndex
        let maximum = ipv4 ? 32 : 128
        let length = slash == text.endIndex ? maximum : try prefixLength(text[text.index(after: slash)...], maximum)
        let address = ipv4 ? IPAddress.parseIPv4(text[..<slash]) : IPAddress.parseIPv6(text[..<slash])
        guard let bytes = address else { throw SPFSyntaxError("not an \(ipv4 ? "IPv4" : "IPv6") network: \(text)") }
        return ipv4 ? .ip4(.v4(bytes), prefixLength: length) : .ip6(.v6(bytes), prefixLength: length)
    }

    /// Splits "domain/24//64" into the domain-spec and the prefix lengths at its end; a "/" elsewhere
    /// belongs to the domain-spec, which may hold any visible character but "%" (§7.1).
    private static func splitCIDR(_ text: Substring) -> (domain: Substring, cidr: Substring) {
        /// The position of the "/" before the digits that end `text`, if it ends so.
        func slashBeforeDigits(_ text: Substring) -> Substring.Index? {
            let digits = text.reversed().prefix { ("0"..."9").contains($0) }.count
            guard digits > 0 else { return nil }
            let start = text.index(text.endIndex, offsetBy: -digits)
            guard start > text.startIndex, text[text.index(before: start)] == "/" else { return nil }
            return text.index(before: start)
        }
        var domain = text
        if let slash = slashBeforeDigits(domain), slash > domain.startIndex, domain[domain.index(before: slash)] == "/" {
            domain = domain[..<domain.index(before: slash)]
        }
        if let slash = slashBeforeDigits(domain) { domain = domain[..<slash] }
        return (domain, text[domain.endIndex...])
    }

    private static func domainSpec(_ text: Substring) throws(SPFSyntaxError) -> SPFMacroString {
        let domain = try SPFMacroString(text)
        guard domain.isDomainSpec else { throw SPFSyntaxError("not a domain: \"\(text)\"") }
        return domain
    }

    /// `[ "/" ip4-cidr-length ] [ "//" ip6-cidr-length ]`.
    private static func dualCIDR(_ text: Substring) throws(SPFSyntaxError) -> DualCIDR {
        var cidr = DualCIDR()
        var rest = text
        if rest.hasPrefix("/"), !rest.hasPrefix("//") {
            rest = rest.dropFirst()
            let digits = rest.prefix { $0 != "/" }
            cidr.ipv4 = try prefixLength(digits, 32)
            rest = rest.dropFirst(digits.count)
        }
        if rest.hasPrefix("//") {
            cidr.ipv6 = try prefixLength(rest.dropFirst(2), 128)
            rest = rest[rest.endIndex...]
        }
        guard rest.isEmpty else { throw SPFSyntaxError("a bad prefix length: \(text)") }
        return cidr
    }

    /// A decimal without leading zeros, at most `maximum`.
    private static func prefixLength(_ digits: Substring, _ maximum: Int) throws(SPFSyntaxError) -> Int {
        guard (1...3).contains(digits.count), digits.allSatisfy({ ("0"..."9").contains($0) }),
              digits == "0" || digits.first != "0", let value = Int(digits), value <= maximum
        else { throw SPFSyntaxError("a bad prefix length: /\(digits)") }
        return value
    }
}
