import Foundation

/// The query string, decoded the way browsers encode it: `page%5Bnumber%5D=2` is `page[number]`,
/// `+` is a space. An empty value counts as absent, as Laravel's ConvertEmptyStringsToNull has it
/// (the addy.io browser extension sends `filter[active]=&filter[search]=`).
struct QueryParameters: Sendable {
    private var values: [String: String] = [:]

    init(_ query: String?) {
        for pair in (query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String? {
                s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            }
            guard let key = decode(parts[0]), parts.count > 1, let value = decode(parts[1]), !value.isEmpty else { continue }
            values[key] = value
        }
    }

    subscript(_ key: String) -> String? { values[key] }
}
