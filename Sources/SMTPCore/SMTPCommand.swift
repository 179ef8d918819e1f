/// A command line from an SMTP client (RFC 5321 §4.1), parsed. Parsing is pure: no policy here.
public enum SMTPCommand: Sendable, Equatable {
    case helo(String)
    case ehlo(String)
    case mail(reversePath: String?, parameters: MailParameters)
    case rcpt(forwardPath: String, parameters: [String: String])
    case data
    case rset
    case noop
    case quit
    case vrfy(String)
    case help
    case startTLS

    /// What MAIL FROM may carry (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8).
    public struct MailParameters: Sendable, Equatable {
        public var size: Int?
        public var body8BitMIME = false
        public var smtpUTF8 = false

        public init(size: Int? = nil, body8BitMIME: Bool = false, smtpUTF8: Bool = false) {
            self.size = size
            self.body8BitMIME = body8BitMIME
            self.smtpUTF8 = smtpUTF8
        }
    }

    public enum ParseError: Error, Equatable {
        /// Not a command we know: 500.
        case unknownCommand
        /// A known command with bad arguments: 501, with the text to say.
        case badArguments(String)
    }

    /// Parses one command line (without its CRLF). Verbs are case-insensitive; paths keep their bytes.
    public static func parse(_ line: String) throws(ParseError) -> SMTPCommand {
        let verbEnd = line.firstIndex(of: " ") ?? line.endIndex
        let verb = line[..<verbEnd].uppercased()
        let argument = line[verbEnd...].drop(while: { $0 == " " })
        switch verb {
        case "HELO", "EHLO":
            let domain = argument.split(separator: " ").first.map(String.init) ?? ""
            guard !domain.isEmpty else { throw .badArguments("Syntax: \(verb) hostname") }
            return verb == "HELO" ? .helo(domain) : .ehlo(domain)
        case "MAIL":
            guard argument.uppercased().hasPrefix("FROM:") else { throw .badArguments("Syntax: MAIL FROM:<address>") }
            let (path, rest) = try splitPath(argument.dropFirst(5), allowEmpty: true)
            var parameters = MailParameters()
            for (key, value) in try keywords(rest) {
                switch key {
                case "SIZE":
                    guard let value, let size = Int(value), size >= 0 else { throw .badArguments("Bad SIZE parameter") }
                    parameters.size = size
                case "BODY":
                    switch value?.uppercased() {
                    case "8BITMIME": parameters.body8BitMIME = true
                    case "7BIT": parameters.body8BitMIME = false
                    default: throw .badArguments("Bad BODY parameter")
                    }
                case "SMTPUTF8":
                    guard value == nil else { throw .badArguments("Bad SMTPUTF8 parameter") }
                    parameters.smtpUTF8 = true
                default:
                    throw .badArguments("Unsupported MAIL parameter \(key)")
                }
            }
            return .mail(reversePath: path, parameters: parameters)
        case "RCPT":
            guard argument.uppercased().hasPrefix("TO:") else { throw .badArguments("Syntax: RCPT TO:<address>") }
            let (path, rest) = try splitPath(argument.dropFirst(3), allowEmpty: false)
            var parameters: [String: String] = [:]
            for (key, value) in try keywords(rest) { parameters[key] = value ?? "" }
            return .rcpt(forwardPath: path!, parameters: parameters)
        case "DATA", "RSET", "QUIT", "STARTTLS":
            guard argument.isEmpty else { throw .badArguments("Syntax: \(verb) takes no arguments") }
            switch verb {
            case "DATA": return .data
            case "RSET": return .rset
            case "QUIT": return .quit
            default: return .startTLS
            }
        case "NOOP": return .noop
        case "HELP": return .help
        case "VRFY":
            guard !argument.isEmpty else { throw .badArguments("Syntax: VRFY address") }
            return .vrfy(String(argument))
        default:
            throw .unknownCommand
        }
    }

    /// `<path> rest`: the path between angle brackets (a source route `@a,@b:` before it is dropped),
    /// nil for `<>`. A path without brackets is accepted when it has no spaces, as many clients send it.
    static func splitPath(_ text: Substring, allowEmpty: Bool) throws(ParseError) -> (String?, Substring) {
        let text = text.drop(while: { $0 == " " })
        var path: Substring
        var rest: Substring
        if text.hasPrefix("<") {
            guard let close = text.firstIndex(of: ">") else { throw .badArguments("Missing > in address") }
            path = text[text.index(after: text.startIndex)..<close]
            rest = text[text.index(after: close)...]
        } else {
            let end = text.firstIndex(of: " ") ?? text.endIndex
            path = text[..<end]
            rest = text[end...]
        }
        if path.hasPrefix("@"), let colon = path.firstIndex(of: ":") { path = path[path.index(after: colon)...] }
        if path.isEmpty {
            guard allowEmpty, text.hasPrefix("<") else { throw .badArguments("An address is required") }
            return (nil, rest)
        }
        guard path.contains("@"), !path.contains(where: { $0 == " " || $0 == "<" || $0 == ">" }) else {
            throw .badArguments("Bad address syntax")
        }
        return (String(path), rest)
    }

    /// `KEY=VALUE KEY2 …` after the path; keys upper-cased.
    static func keywords(_ text: Substring) throws(ParseError) -> [(String, String?)] {
        var out: [(String, String?)] = []
        for word in text.split(separator: " ") {
            let parts = word.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = parts[0].uppercased()
            guard !key.isEmpty, key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                throw .badArguments("Bad parameter syntax")
            }
            out.append((key, parts.count > 1 ? String(parts[1]) : nil))
        }
        return out
    }
}
