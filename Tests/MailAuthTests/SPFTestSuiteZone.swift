import DNS
import MailAuth

/// The DNS of one scenario of the RFC 7208 test suite, with the conventions its zone data is written
/// in (see the head of rfc7208-tests.yml):
/// - `SPF:` records stand in for TXT records at a name that has no `TXT:` of its own (the suite
///   predates the end of type 99; `TXT: NONE` says "no TXT here, do not copy"). Type 99 itself is
///   never asked for by the evaluator.
/// - `TIMEOUT` in a name's list: a question about that name fails unless a record of the asked type
///   came before it; `TYPE: TIMEOUT` fails questions of that type.
/// - names under `error.` that the zone lacks fail.
/// - a CNAME is followed one step, as a resolver would.
struct SPFTestSuiteZone: MailAuthDNS {
    enum Entry: Sendable {
        case record(DNSRecord)
        /// `TIMEOUT` alone (nil) or as the value of a type.
        case timeout(DNSRecordType?)
    }

    var names: [String: [Entry]] = [:]

    func lookup(_ name: String, _ type: DNSRecordType) async -> DNSLookup {
        answer(Self.key(name), type, followingCNAME: true)
    }

    private func answer(_ name: String, _ type: DNSRecordType, followingCNAME: Bool) -> DNSLookup {
        guard let entries = names[name] else {
            return name.hasPrefix("error.") ? .failed("timeout") : .noSuchName
        }
        var found: [DNSRecord] = []
        for entry in entries {
            switch entry {
            case .timeout(nil):
                return found.isEmpty ? .failed("timeout") : .found(found)
            case .timeout(let timedOut?):
                if timedOut == type { return .failed("timeout") }
            case .record(.cname(let target)) where type != .cname && followingCNAME:
                switch answer(Self.key(target), type, followingCNAME: false) {
                case .found(let records): found += records
                case .noSuchName: break
                case .failed(let why): return .failed(why)
                }
            case .record(let record):
                if record.type == type { found.append(record) }
            }
        }
        return .found(found)
    }

    static func key(_ name: String) -> String {
        let lower = name.lowercased()
        return lower.hasSuffix(".") ? String(lower.dropLast()) : lower
    }

    /// The zone of one scenario from its `zonedata` mapping.
    init(zonedata: [String: Any]) throws {
        for (name, value) in zonedata {
            var entries: [Entry] = []
            var spfTexts: [[String]] = []
            var hasTXT = false
            for item in value as? [Any] ?? [] {
                if let word = item as? String, word == "TIMEOUT" {
                    entries.append(.timeout(nil))
                    continue
                }
                guard let map = item as? [String: Any], let (type, data) = map.first else {
                    throw SuiteFormatError(description: "unreadable zone entry \(item) at \(name)")
                }
                if "\(data)" == "TIMEOUT", let recordType = Self.recordType(type) {
                    entries.append(.timeout(recordType))
                    continue
                }
                switch type {
                case "SPF":
                    spfTexts.append(Self.strings(data))
                case "TXT":
                    hasTXT = true
                    let strings = Self.strings(data)
                    if strings != ["NONE"] { entries.append(.record(.txt(strings))) }
                default:
                    entries.append(.record(try Self.record(type, data, at: name)))
                }
            }
            if !hasTXT { entries += spfTexts.map { .record(.txt($0)) } }
            names[Self.key(name)] = entries
        }
    }

    private static func recordType(_ name: String) -> DNSRecordType? {
        switch name {
        case "A": .a
        case "AAAA": .aaaa
        case "MX": .mx
        case "PTR": .ptr
        case "TXT", "SPF": .txt
        case "CNAME": .cname
        default: nil
        }
    }

    private static func strings(_ data: Any) -> [String] {
        if let list = data as? [Any] { return list.map { "\($0)" } }
        return ["\(data)"]
    }

    private static func record(_ type: String, _ data: Any, at name: String) throws -> DNSRecord {
        let text = "\(data)"
        switch type {
        case "A":
            guard case .v4(let bytes)? = IPAddress(text) else { break }
            return .a(bytes)
        case "AAAA":
            guard case .v6(let bytes)? = IPAddress(text.lowercased()) else { break }
            return .aaaa(bytes)
        case "MX":
            guard let pair = data as? [Any], pair.count == 2, let preference = UInt16("\(pair[0])") else { break }
            return .mx(preference: preference, exchange: key("\(pair[1])"))
        case "PTR":
            return .ptr(key(text))
        case "CNAME":
            return .cname(key(text))
        default:
            break
        }
        throw SuiteFormatError(description: "unreadable \(type) record \(text) at \(name)")
    }
}

struct SuiteFormatError: Error, CustomStringConvertible {
    var description: String
}
