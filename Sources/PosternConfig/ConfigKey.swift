import Storage

/// A parsed configuration value.
enum ConfigValue: Sendable {
    case text(String)
    case number(Int)
    case duration(Duration)
    case flag(Bool)
    case list([String])
    case endpoint(Endpoint)
    case database(DatabaseURL)
}

/// One key the configuration knows: its dotted name, what it holds, and its default.
struct ConfigKey: Sendable {
    enum Kind: Sendable {
        case text
        case hostname
        case absolutePath
        case endpoint(defaultPort: UInt16?)
        case number(ClosedRange<Int>)
        case duration
        case flag
        case hostnames
        case secrets
        case database
    }

    let name: String
    let kind: Kind
    let required: Bool
    let defaultValue: ConfigValue?

    init(_ name: String, _ kind: Kind, required: Bool = false, default defaultValue: ConfigValue? = nil) {
        self.name = name
        self.kind = kind
        self.required = required
        self.defaultValue = defaultValue
    }

    /// `smtp.max_message_size` is overridden by `POSTERN_SMTP_MAX_MESSAGE_SIZE`.
    var environmentName: String { "POSTERN_" + name.replacingOccurrences(of: ".", with: "_").uppercased() }

    var section: String { String(name.split(separator: ".")[0]) }

    /// Parses a raw value (a scalar's text, or a list's items) or says what is wrong with it.
    func parse(_ raw: RawValue) -> Parsed {
        switch (kind, raw) {
        case (.hostnames, .list(let items)), (.secrets, .list(let items)):
            return parseList(items)
        case (.hostnames, .scalar), (.secrets, .scalar):
            return .problem("must be a list, like [a, b]")
        case (_, .list):
            return .problem("must be a single value, not a list")
        case (_, .scalar(let text)):
            return parseScalar(text)
        }
    }

    private func parseList(_ items: [String]) -> Parsed {
        guard !items.isEmpty else { return .problem("must not be empty") }
        if case .hostnames = kind {
            if let bad = items.first(where: { !Hostname.isValid($0) }) {
                return .problem("'\(bad)' is not a valid domain name")
            }
            return .value(.list(items.map { $0.lowercased() }))
        }
        if items.contains(where: \.isEmpty) { return .problem("must not contain an empty secret") }
        return .value(.list(items))
    }

    private func parseScalar(_ text: String) -> Parsed {
        switch kind {
        case .text:
            return text.isEmpty ? .problem("must not be empty") : .value(.text(text))
        case .hostname:
            return Hostname.isValid(text)
                ? .value(.text(text.lowercased())) : .problem("'\(text)' is not a valid host name")
        case .absolutePath:
            return text.hasPrefix("/") ? .value(.text(text)) : .problem("'\(text)' must be an absolute path")
        case .endpoint(let defaultPort):
            guard let endpoint = Endpoint(parsing: text, defaultPort: defaultPort) else {
                return .problem("'\(text)' is not host:port")
            }
            return .value(.endpoint(endpoint))
        case .number(let range):
            guard let n = Int(text) else { return .problem("'\(text)' is not a whole number") }
            guard range.contains(n) else {
                return .problem("\(n) is out of range (\(range.lowerBound)…\(range.upperBound))")
            }
            return .value(.number(n))
        case .duration:
            guard let d = DurationText.parse(text) else {
                return .problem("'\(text)' is not a duration (like 500ms, 30s, 5m, 2h, 5d)")
            }
            return .value(.duration(d))
        case .flag:
            switch text.lowercased() {
            case "true", "yes", "on", "1": return .value(.flag(true))
            case "false", "no", "off", "0": return .value(.flag(false))
            default: return .problem("'\(text)' is not true or false")
            }
        case .database:
            do throws(DatabaseURL.ParseError) {
                return .value(.database(try DatabaseURL(parsing: text)))
            } catch {
                return .problem(error.description)
            }
        case .hostnames, .secrets:
            return .problem("must be a list")
        }
    }
}

/// The outcome of parsing one value: the value, or what is wrong with it.
enum Parsed: Sendable {
    case value(ConfigValue)
    case problem(String)
}

/// A value before parsing: a scalar's text or a list's items.
enum RawValue: Sendable, Equatable {
    case scalar(String)
    case list([String])
}

/// Syntax of DNS host names (letters, digits, hyphens; dot-separated labels of at most 63).
enum Hostname {
    static func isValid(_ name: String) -> Bool {
        let name = name.hasSuffix(".") ? String(name.dropLast()) : name
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }
}
