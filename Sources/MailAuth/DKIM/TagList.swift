/// A DKIM tag list (RFC 6376 §3.2), as DKIM-Signature fields, key records and DMARC records write it:
/// `name=value` pairs separated by semicolons, with folding whitespace around names and values.
/// Tag names are case-sensitive; a list naming one tag twice, or with a malformed name, is invalid.
struct TagList: Sendable {
    /// The tags in their order, values without the whitespace around them.
    private(set) var tags: [(name: String, value: String)] = []

    /// `nil` when the text is not a valid tag list.
    init?(_ text: String) {
        var seen = Set<String>()
        let specs = text.split(separator: ";", omittingEmptySubsequences: false)
        for (position, spec) in specs.enumerated() {
            let trimmed = Self.trimFWS(spec)
            if trimmed.isEmpty {
                // Only the empty spec after a final semicolon (or an all-blank list) is allowed.
                if position == specs.count - 1 { continue }
                return nil
            }
            guard let equals = trimmed.firstIndex(of: "=") else { return nil }
            let name = Self.trimFWS(trimmed[..<equals])
            let value = Self.trimFWS(trimmed[trimmed.index(after: equals)...])
            guard Self.isTagName(name), !seen.contains(name) else { return nil }
            guard value.unicodeScalars.allSatisfy({ $0.value >= 0x20 || $0 == "\t" || $0 == "\r" || $0 == "\n" })
            else { return nil }
            seen.insert(name)
            tags.append((name, value))
        }
    }

    subscript(_ name: String) -> String? { tags.first { $0.name == name }?.value }

    /// The value with all whitespace removed, as base64 values (`b=`, `bh=`, `p=`) are read.
    func compact(_ name: String) -> String? { self[name].map { String($0.unicodeScalars.filter { !Self.isFWS($0) }) } }

    /// A colon-separated value (`h=`, `q=`, `s=`, `t=` of a key) as its trimmed elements.
    func list(_ name: String) -> [String]? {
        self[name].map { $0.split(separator: ":", omittingEmptySubsequences: false).map { Self.trimFWS($0) } }
    }

    var first: (name: String, value: String)? { tags.first }

    static func isFWS(_ scalar: Unicode.Scalar) -> Bool { scalar == " " || scalar == "\t" || scalar == "\r" || scalar == "\n" }

    static func trimFWS(_ text: Substring) -> String {
        var scalars = text.unicodeScalars[...]
        while let first = scalars.first, isFWS(first) { scalars.removeFirst() }
        while let last = scalars.last, isFWS(last) { scalars.removeLast() }
        return String(String.UnicodeScalarView(scalars))
    }

    /// ALPHA followed by letters, digits and underscores.
    private static func isTagName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetter else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetter || ("0"..."9").contains($0) || $0 == "_" }
    }
}

extension Unicode.Scalar {
    var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
}
