import Foundation

/// Splits a migration file into its statements at `;`, leaving alone semicolons inside quotes,
/// backticks and comments. Comments are kept with the statement they precede; empty statements dropped.
public enum SQLScript {
    public static func statements(in script: String) -> [String] {
        var statements: [String] = []
        var current: [Character] = []
        var quote: Character?
        var lineComment = false
        var blockComment = false
        let characters = Array(script)
        var index = 0
        func flush() {
            let text = String(current).trimmingWhitespace
            if !text.isEmpty, !isOnlyComments(text) { statements.append(text) }
            current.removeAll()
        }
        while index < characters.count {
            let c = characters[index]
            let next: Character? = index + 1 < characters.count ? characters[index + 1] : nil
            defer { index += 1 }
            if lineComment {
                current.append(c)
                if c == "\n" { lineComment = false }
                continue
            }
            if blockComment {
                current.append(c)
                if c == "*", next == "/" {
                    current.append("/")
                    index += 1
                    blockComment = false
                }
                continue
            }
            if let q = quote {
                current.append(c)
                if c == "\\", q != "`", let next {
                    current.append(next)
                    index += 1
                } else if c == q {
                    if next == q {  // doubled quote stands for itself
                        current.append(q)
                        index += 1
                    } else {
                        quote = nil
                    }
                }
                continue
            }
            switch c {
            case "'", "\"", "`":
                quote = c
                current.append(c)
            case "-" where next == "-":
                lineComment = true
                current.append(c)
            case "#":
                lineComment = true
                current.append(c)
            case "/" where next == "*":
                blockComment = true
                current.append(c)
            case ";":
                flush()
            default:
                current.append(c)
            }
        }
        flush()
        return statements
    }

    private static func isOnlyComments(_ text: String) -> Bool {
        var stripped = ""
        var inBlock = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var rest = Substring(line)
            while true {
                if inBlock {
                    guard let end = rest.range(of: "*/") else { break }
                    rest = rest[end.upperBound...]
                    inBlock = false
                }
                let t = Substring(rest.trimmingCharacters(in: .whitespaces))
                if t.hasPrefix("--") || t.hasPrefix("#") || t.isEmpty { break }
                if t.hasPrefix("/*!") { stripped += t; break }  // an executable comment is a statement
                if t.hasPrefix("/*") {
                    inBlock = true
                    rest = t.dropFirst(2)
                    continue
                }
                stripped += t
                break
            }
        }
        return stripped.isEmpty
    }
}

extension StringProtocol {
    fileprivate var trimmingWhitespace: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
