import Foundation

/// RFC 2047 encoded words (`=?UTF-8?B?...?=`), as display names carry non-ASCII text.
public enum EncodedWord {
    /// A phrase as a reader sees it: quoted strings unquoted, encoded words decoded (whitespace between
    /// two adjacent encoded words dropped, §6.2). An encoded word in an unknown charset stays as written.
    public static func decodePhrase(_ phrase: String) -> String {
        // Words and runs of blanks, in one pass; a display name longer than 2,000 characters is cut.
        enum Token { case blank, word(String, encoded: Bool) }
        var tokens: [Token] = []
        var current = ""
        var quoted = false, escaped = false
        func flush() {
            guard !current.isEmpty else { return }
            if let decoded = decode(current) { tokens.append(.word(decoded, encoded: true)) } else { tokens.append(.word(current, encoded: false)) }
            current = ""
        }
        for scalar in phrase.unicodeScalars.prefix(2000) {
            if escaped { current.unicodeScalars.append(scalar); escaped = false; continue }
            if quoted {
                if scalar == "\\" { escaped = true } else if scalar == "\"" { quoted = false } else { current.unicodeScalars.append(scalar) }
                continue
            }
            switch scalar {
            case "\"": quoted = true
            case " ", "\t":
                flush()
                if case .blank? = tokens.last {} else { tokens.append(.blank) }
            default: current.unicodeScalars.append(scalar)
            }
        }
        flush()
        var out = ""
        for (index, token) in tokens.enumerated() {
            switch token {
            case .word(let text, _): out += text
            case .blank:
                // Blanks between two encoded words are dropped (RFC 2047 §6.2); others become one space.
                guard index > 0, index + 1 < tokens.count else { continue }
                if case .word(_, true) = tokens[index - 1], case .word(_, true) = tokens[index + 1] { continue }
                out += " "
            }
        }
        return out
    }

    /// One encoded word's text, or nil when `word` is not one (or names a charset this does not know).
    public static func decode(_ word: String) -> String? {
        guard word.hasPrefix("=?"), word.hasSuffix("?="), word.count >= 8 else { return nil }
        let parts = word.dropFirst(2).dropLast(2).split(separator: "?", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        let charset = parts[0].split(separator: "*").first.map { $0.lowercased() } ?? ""
        let bytes: [UInt8]
        switch parts[1].uppercased() {
        case "B":
            guard let data = Data(base64Encoded: String(parts[2]), options: .ignoreUnknownCharacters) else { return nil }
            bytes = [UInt8](data)
        case "Q":
            var out: [UInt8] = []
            let text = Array(parts[2].utf8)
            var index = 0
            while index < text.count {
                if text[index] == UInt8(ascii: "_") {
                    out.append(32)
                } else if text[index] == UInt8(ascii: "="), index + 2 < text.count,
                          let value = UInt8(String(decoding: text[(index + 1)...(index + 2)], as: UTF8.self), radix: 16) {
                    out.append(value)
                    index += 2
                } else {
                    out.append(text[index])
                }
                index += 1
            }
            bytes = out
        default: return nil
        }
        switch charset {
        case "utf-8", "utf8", "us-ascii":
            return String(decoding: bytes, as: UTF8.self)
        case "iso-8859-1", "latin1", "iso-8859-15", "windows-1252", "cp1252":
            return String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
        default:
            return nil
        }
    }

    /// `text` as UTF-8 "B" encoded words of at most 75 characters each, split between characters.
    public static func encode(_ text: String) -> [String] {
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in text {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > 45, !chunk.isEmpty {
                words.append("=?UTF-8?B?" + Data(chunk).base64EncodedString() + "?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty || words.isEmpty { words.append("=?UTF-8?B?" + Data(chunk).base64EncodedString() + "?=") }
        return words
    }
}
