/// A `macro-string` of RFC 7208 §7.1, read once when the record is parsed and expanded for each
/// check.
struct SPFMacroString: Sendable, Equatable {
    enum Part: Sendable, Equatable {
        /// Text taken as is.
        case literal(String)
        /// `%%`, `%_` or `%-`: a fixed expansion that still counts as a `macro-expand`.
        case escape(String)
        /// `%{` letter transformers delimiters `}`.
        case macro(Macro)
    }

    struct Macro: Sendable, Equatable {
        /// Lower case: s l o d i p h c r t v.
        var letter: Character
        /// An upper-case letter asks for URL escaping of the value.
        var urlEscaped: Bool
        /// Keep only this many right-hand parts.
        var rightParts: Int?
        var reversed: Bool
        /// Where to split the value; `.` when none given.
        var delimiters: Set<Character>
    }

    var parts: [Part]

    /// The letters allowed everywhere; `c`, `r` and `t` only in an explanation (§7.2).
    static let letters: Set<Character> = ["s", "l", "o", "d", "i", "p", "h", "v"]
    static let explanationLetters: Set<Character> = letters.union(["c", "r", "t"])
    static let delimiterCharacters: Set<Character> = [".", "-", "+", ",", "/", "_", "="]

    /// Reads `text`; `explanation` allows `c`, `r`, `t` and spaces (`explain-string`).
    init(_ text: Substring, explanation: Bool = false) throws(SPFSyntaxError) {
        var parts: [Part] = []
        var literal = ""
        var index = text.startIndex
        func flush() {
            if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
        }
        while index < text.endIndex {
            let character = text[index]
            guard character == "%" else {
                // macro-literal: visible ASCII but "%"; a space only in an explanation.
                guard let ascii = character.asciiValue, (0x21...0x7e).contains(ascii) || (explanation && ascii == 0x20)
                else { throw SPFSyntaxError("invalid character in \"\(text)\"") }
                literal.append(character)
                index = text.index(after: index)
                continue
            }
            let next = text.index(after: index)
            guard next < text.endIndex else { throw SPFSyntaxError("a lone % at the end of \"\(text)\"") }
            switch text[next] {
            case "%": flush(); parts.append(.escape("%")); index = text.index(after: next)
            case "_": flush(); parts.append(.escape(" ")); index = text.index(after: next)
            case "-": flush(); parts.append(.escape("%20")); index = text.index(after: next)
            case "{":
                guard let close = text[next...].firstIndex(of: "}") else {
                    throw SPFSyntaxError("an unclosed macro in \"\(text)\"")
                }
                flush()
                parts.append(.macro(try Self.macro(text[text.index(after: next)..<close], explanation: explanation)))
                index = text.index(after: close)
            default:
                throw SPFSyntaxError("an invalid % escape in \"\(text)\"")
            }
        }
        flush()
        self.parts = parts
    }

    /// The inside of `%{…}`: letter, digits, `r`, delimiters.
    private static func macro(_ body: Substring, explanation: Bool) throws(SPFSyntaxError) -> Macro {
        guard let first = body.first, first.isASCII, first.isLetter,
              (explanation ? explanationLetters : letters).contains(Character(first.lowercased()))
        else { throw SPFSyntaxError("an invalid macro letter in %{\(body)}") }
        var rest = body.dropFirst()
        let digits = rest.prefix { ("0"..."9").contains($0) }
        rest = rest.dropFirst(digits.count)
        var rightParts: Int? = nil
        if !digits.isEmpty {
            // Values above 128 mean "all parts"; zero is not allowed (§7.3).
            let value = digits.count > 3 ? 999 : Int(digits)!
            guard value > 0 else { throw SPFSyntaxError("a zero digit transformer in %{\(body)}") }
            rightParts = value
        }
        var reversed = false
        if rest.first == "r" || rest.first == "R" {
            reversed = true
            rest = rest.dropFirst()
        }
        guard rest.allSatisfy(delimiterCharacters.contains) else {
            throw SPFSyntaxError("invalid delimiters in %{\(body)}")
        }
        return Macro(
            letter: Character(first.lowercased()), urlEscaped: first.isUppercase, rightParts: rightParts,
            reversed: reversed, delimiters: rest.isEmpty ? ["."] : Set(rest))
    }

    /// Whether this is a `domain-spec`: it ends in a macro or in "." and a top label (§7.1).
    var isDomainSpec: Bool {
        guard let last = parts.last else { return false }
        guard case .literal(let text) = last else { return true }
        var tail = Substring(text)
        if tail.hasSuffix(".") { tail = tail.dropLast() }
        guard let dot = tail.lastIndex(of: ".") else { return false }
        return Self.isTopLabel(tail[tail.index(after: dot)...])
    }

    /// `toplabel`: letters, digits and inner hyphens, not all digits unless it has a hyphen.
    static func isTopLabel(_ label: Substring) -> Bool {
        guard let first = label.first, let last = label.last,
              first.isASCIIAlphanumeric, last.isASCIIAlphanumeric,
              label.allSatisfy({ $0.isASCIIAlphanumeric || $0 == "-" })
        else { return false }
        return label.contains { $0.isLetter || $0 == "-" }
    }

    /// The text with every macro replaced by its value (§7.3).
    func expand(_ value: (Character) async -> String) async -> String {
        var result = ""
        for part in parts {
            switch part {
            case .literal(let text), .escape(let text):
                result += text
            case .macro(let macro):
                result += macro.transform(await value(macro.letter))
            }
        }
        return result
    }
}

extension SPFMacroString.Macro {
    /// Splits the value at the delimiters, reverses and keeps right-hand parts as asked, joins with
    /// dots, and URL-escapes for an upper-case letter.
    func transform(_ value: String) -> String {
        var pieces = value.split(omittingEmptySubsequences: false, whereSeparator: delimiters.contains)
        if reversed { pieces.reverse() }
        if let count = rightParts, count < pieces.count { pieces = Array(pieces.suffix(count)) }
        let joined = pieces.joined(separator: ".")
        return urlEscaped ? Self.urlEscape(joined) : joined
    }

    /// Percent-encodes all but the unreserved characters of RFC 3986.
    static func urlEscape(_ text: String) -> String {
        var escaped = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                escaped.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                escaped += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return escaped
    }
}

extension Character {
    var isASCIIAlphanumeric: Bool { isASCII && (isLetter || isNumber) }
}

/// A record that does not follow the grammar of RFC 7208 §12: a permerror.
struct SPFSyntaxError: Error, Sendable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
