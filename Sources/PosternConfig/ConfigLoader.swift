import Foundation
import Yams

/// Reads a YAML configuration, applies `POSTERN_…` environment overrides, and checks every key.
public enum ConfigLoader {
    /// Environment variables that are not configuration keys (they choose the file, or serve tests).
    static let reservedEnvironment: Set<String> = ["POSTERN_CONFIG"]

    public static func load(path: String, environment: [String: String]) throws(ConfigError) -> NodeConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw ConfigError(problems: [
                ConfigProblem(key: path, message: exists ? "cannot read the file" : "no such configuration file")
            ])
        }
        return try parse(yaml: String(decoding: data, as: UTF8.self), environment: environment)
    }

    public static func parse(yaml: String, environment: [String: String]) throws(ConfigError) -> NodeConfig {
        var problems: [ConfigProblem] = []
        var raw = readYAML(yaml, problems: &problems)
        // A file that is not YAML at all says nothing about its keys: report that alone.
        if problems.contains(where: { $0.key == "yaml" }) { throw ConfigError(problems: problems) }
        applyEnvironment(environment, to: &raw, problems: &problems)
        var values: [String: ConfigValue] = [:]
        for key in ConfigSchema.keys {
            if let given = raw[key.name] {
                switch key.parse(given) {
                case .value(let value): values[key.name] = value
                case .problem(let message): problems.append(ConfigProblem(key: key.name, message: message))
                }
            } else if key.required {
                problems.append(ConfigProblem(key: key.name, message: "is required"))
            }
        }
        guard problems.isEmpty else { throw ConfigError(problems: problems) }
        let config = NodeConfig(ConfigValues(values: values))
        let crossProblems = config.crossKeyProblems()
        guard crossProblems.isEmpty else { throw ConfigError(problems: crossProblems) }
        return config
    }

    /// Flattens the YAML document into `section.key` entries, reporting shapes and keys it does not know.
    static func readYAML(_ text: String, problems: inout [ConfigProblem]) -> [String: RawValue] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            problems.append(ConfigProblem(key: "yaml", message: "not valid YAML: \(error)"))
            return [:]
        }
        guard let root else { return [:] }  // an empty file: every required key will be reported
        guard let sections = root.mapping else {
            problems.append(ConfigProblem(key: "yaml", message: "the file must be a mapping of sections"))
            return [:]
        }
        var raw: [String: RawValue] = [:]
        for (sectionNode, body) in sections {
            let section = sectionNode.string ?? "\(sectionNode)"
            guard ConfigSchema.sections.contains(section) else {
                problems.append(ConfigProblem(key: section, message: "unknown section"))
                continue
            }
            guard let entries = body.mapping else {
                problems.append(ConfigProblem(key: section, message: "must be a mapping of keys"))
                continue
            }
            for (keyNode, value) in entries {
                let name = "\(section).\(keyNode.string ?? "\(keyNode)")"
                guard ConfigSchema.byName[name] != nil else {
                    problems.append(ConfigProblem(key: name, message: "unknown key"))
                    continue
                }
                switch value {
                case .scalar(let scalar):
                    raw[name] = .scalar(scalar.string)
                case .sequence(let items):
                    var strings: [String] = []
                    for item in items {
                        if let s = item.scalar?.string { strings.append(s) }
                        else { problems.append(ConfigProblem(key: name, message: "list items must be plain values")) }
                    }
                    raw[name] = .list(strings)
                default:
                    problems.append(ConfigProblem(key: name, message: "must be a value or a list, not a mapping"))
                }
            }
        }
        return raw
    }

    /// `POSTERN_SECTION_KEY=value` overrides `section.key`. Lists are written `a,b` or `[a, "b,c"]`.
    /// Variables whose first word is no section (`POSTERN_CONFIG`, `POSTERN_TEST_…`) are not keys.
    static func applyEnvironment(
        _ environment: [String: String], to raw: inout [String: RawValue], problems: inout [ConfigProblem]
    ) {
        let byEnvironmentName = Dictionary(uniqueKeysWithValues: ConfigSchema.keys.map { ($0.environmentName, $0) })
        for (variable, value) in environment.sorted(by: { $0.key < $1.key }) where variable.hasPrefix("POSTERN_") {
            guard !reservedEnvironment.contains(variable) else { continue }
            guard let key = byEnvironmentName[variable] else {
                let section = variable.dropFirst("POSTERN_".count).split(separator: "_").first.map { $0.lowercased() }
                if let section, ConfigSchema.sections.contains(section) {
                    problems.append(ConfigProblem(key: variable, message: "no such configuration key"))
                }
                continue
            }
            switch key.kind {
            case .hostnames, .secrets:
                raw[key.name] = .list(environmentList(value))
            default:
                raw[key.name] = .scalar(value)
            }
        }
    }

    static func environmentList(_ value: String) -> [String] {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("["), let node = try? Yams.compose(yaml: trimmed), let items = node.sequence {
            return items.compactMap { $0.scalar?.string }
        }
        return trimmed.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }
}

/// Parsed values by key name, with the schema's defaults behind them.
struct ConfigValues {
    let values: [String: ConfigValue]

    func value(_ name: String) -> ConfigValue? { values[name] ?? ConfigSchema.byName[name]?.defaultValue }

    func text(_ name: String) -> String? { if case .text(let s) = value(name) { s } else { nil } }
    func number(_ name: String) -> Int? { if case .number(let n) = value(name) { n } else { nil } }
    func duration(_ name: String) -> Duration? { if case .duration(let d) = value(name) { d } else { nil } }
    func flag(_ name: String) -> Bool? { if case .flag(let b) = value(name) { b } else { nil } }
    func list(_ name: String) -> [String]? { if case .list(let l) = value(name) { l } else { nil } }
    func endpoint(_ name: String) -> Endpoint? { if case .endpoint(let e) = value(name) { e } else { nil } }
}
