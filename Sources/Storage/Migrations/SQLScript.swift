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
            var l = Substring(line)
            if inBlock {
                guard let end = l.range(of: "*/") else { continue }
                l = l[end.upperBound...]
                inBlock = false
            }
            let t = l.trimmingCharacters(in: " \t\r")
            if t.hasPrefix("--") || t.hasPrefix("#") { continue }
            if t.hasPrefix("/*") {
                if t.range(of: "*/") == nil { inBlock = true }
                continue
            }
            stripped += t
        }
        return stripped.isEmpty
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }

    fileprivate var trimmingWhitespace: String { trimmingCharacters(in: " \t\r\n") }
}
