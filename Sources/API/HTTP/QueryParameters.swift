import Foundation

/// The query string, decoded the way browsers encode it: `page%5Bnumber%5D=2` is `page[number]`,
/// `+` is a space.
struct QueryParameters: Sendable {
    private var values: [String: String] = [:]

    init(_ query: String?) {
        for pair in (query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String? {
                s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            }
            guard let key = decode(parts[0]) else { continue }
            values[key] = parts.count > 1 ? decode(parts[1]) ?? "" : ""
        }
    }

    subscript(_ key: String) -> String? { values[key] }
}
