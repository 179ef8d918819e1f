/// A mailbox as SMTP carries it in MAIL FROM and RCPT TO (RFC 5321 §4.1.2): `local@domain`.
///
/// Both parts keep the bytes they were written with (a rewrite such as SRS must not change them).
/// The local part's case belongs to the receiving system; domains compare without regard to case,
/// so two addresses are equal when their local parts are and their domains match case-insensitively.
/// UTF-8 in either part is accepted (RFC 6531), so callers decide whether SMTPUTF8 is needed.
public struct EmailAddress: Sendable, Hashable, CustomStringConvertible {
    public let localPart: String
    public let domain: String

    public static func == (a: EmailAddress, b: EmailAddress) -> Bool {
        a.localPart == b.localPart && a.domain.lowercased() == b.domain.lowercased()
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(localPart)
        hasher.combine(domain.lowercased())
    }

    /// The same mailbox with its domain in lower case: the form records are stored in.
    public var normalized: EmailAddress { EmailAddress(localPart: localPart, domain: domain.lowercased()) }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case missingAt
        case emptyLocalPart
        case invalidLocalPart
        case localPartTooLong
        case invalidDomain
        case tooLong

        public var description: String {
            switch self {
            case .missingAt: "an address needs local@domain"
            case .emptyLocalPart: "the part before @ is empty"
            case .invalidLocalPart: "the part before @ holds characters an address may not have"
            case .localPartTooLong: "the part before @ is longer than 64 octets"
            case .invalidDomain: "the part after @ is not a domain name"
            case .tooLong: "the address is longer than 254 octets"
            }
        }
    }

    public init(localPart: String, domain: String) {
        self.localPart = localPart
        self.domain = domain
    }

    public init(parsing text: String) throws(ParseError) {
        guard let at = text.utf8.lastIndex(of: UInt8(ascii: "@")) else { throw .missingAt }
        let local = String(text[..<at])
        let domain = String(text[text.utf8.index(after: at)...])
        guard !local.isEmpty else { throw .emptyLocalPart }
        guard text.utf8.count <= 254 else { throw .tooLong }
        guard local.utf8.count <= 64 else { throw .localPartTooLong }
        guard Self.isValidLocalPart(local) else { throw .invalidLocalPart }
        guard Self.isValidDomain(domain) else { throw .invalidDomain }
        self.init(localPart: local, domain: domain)
    }

    public var description: String { "\(localPart)@\(domain)" }

    /// Dot-atom (atext runs separated by single dots), or a quoted string without CR/LF.
    static func isValidLocalPart(_ local: String) -> Bool {
        if local.hasPrefix("\""), local.hasSuffix("\""), local.count >= 2 {
            let inner = local.dropFirst().dropLast()
            var escaped = false
            for c in inner.unicodeScalars {
                if escaped { escaped = false; continue }
                if c == "\\" { escaped = true; continue }
                if c == "\"" || c == "\r" || c == "\n" || c.value < 0x20 || c.value == 0x7f { return false }
            }
            return !escaped
        }
        // Octet by octet: an octet of a non-ASCII scalar is at least 0x80, like the scalar itself.
        return local.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).allSatisfy { atom in
            !atom.isEmpty && atom.allSatisfy { $0 >= 0x80 || atextASCII[Int($0)] }
        }
    }

    /// RFC 5322 atext, plus any non-ASCII scalar (RFC 6532 UTF8-non-ascii).
    static func isAtext(_ c: Unicode.Scalar) -> Bool {
        c.value >= 0x80 || atextASCII[Int(c.value)]
    }

    private static let atextASCII: [Bool] = (0..<128).map { (octet: Int) in
        let c = Unicode.Scalar(UInt8(octet))
        return ("0"..."9").contains(c) || ("a"..."z").contains(c) || ("A"..."Z").contains(c)
            || "!#$%&'*+-/=?^_`{|}~".unicodeScalars.contains(c)
    }

    /// Dot-separated labels of letters, digits and hyphens (non-ASCII letters allowed for IDN),
    /// or an address literal in brackets: `[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321 §4.1.3).
    static func isValidDomain(_ domain: String) -> Bool {
        if domain.hasPrefix("["), domain.hasSuffix("]") {
            var inner = Substring(domain.dropFirst().dropLast())
            let ipv6 = inner.lowercased().hasPrefix("ipv6:")
            if ipv6 { inner = inner.dropFirst(5) }
            guard !inner.isEmpty, inner.count <= 45 else { return false }
            let allowed: (Character) -> Bool = ipv6 ? { $0.isHexDigit || $0 == ":" || $0 == "." } : { ("0"..."9").contains($0) || $0 == "." }
            return inner.allSatisfy(allowed)
        }
        guard !domain.isEmpty, domain.utf8.count <= 253, domain.utf8.contains(UInt8(ascii: ".")) || domain == "localhost" else {
            return false
        }
        // Octet by octet, as in the local part; every non-ASCII scalar is allowed (IDN).
        return domain.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.first != UInt8(ascii: "-") && label.last != UInt8(ascii: "-")
                && label.allSatisfy { $0 >= 0x80 || ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == UInt8(ascii: "-") }
        }
    }
}
