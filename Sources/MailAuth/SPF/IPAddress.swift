/// An IPv4 or IPv6 address as SPF sees it: the connecting client, and the networks of `ip4:` and
/// `ip6:` (RFC 7208 §5.6).
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// Four bytes.
    case v4([UInt8])
    /// Sixteen bytes.
    case v6([UInt8])

    /// Parses a dotted quad (no leading zeros, as RFC 7208's `qnum`) or any IPv6 text form of RFC 4291
    /// §2.2: eight groups, `::` compression, a trailing dotted quad (`::ffff:192.0.2.1`).
    public init?(_ text: String) {
        if let bytes = Self.parseIPv4(Substring(text)) {
            self = .v4(bytes)
        } else if let bytes = Self.parseIPv6(Substring(text)) {
            self = .v6(bytes)
        } else {
            return nil
        }
    }

    public var bytes: [UInt8] {
        switch self {
        case .v4(let bytes), .v6(let bytes): bytes
        }
    }

    public var isIPv4: Bool {
        if case .v4 = self { true } else { false }
    }

    /// The address SPF evaluates: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is the IPv4
    /// address it carries (RFC 7208 §5).
    public var unmapped: IPAddress {
        guard case .v6(let bytes) = self, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff
        else { return self }
        return .v4(Array(bytes[12...]))
    }

    /// The number of bits: 32 or 128.
    public var bitCount: Int { bytes.count * 8 }

    /// Whether the first `prefixLength` bits equal those of `network` (of the same family).
    public func isIn(_ network: IPAddress, prefixLength: Int) -> Bool {
        guard isIPv4 == network.isIPv4, bytes.count == network.bytes.count, (0...bitCount).contains(prefixLength)
        else { return false }
        let mine = bytes, theirs = network.bytes
        var remaining = prefixLength
        for index in mine.indices where remaining > 0 {
            let bits = min(remaining, 8)
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - bits))
            if mine[index] & mask != theirs[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    /// Dotted quad, or RFC 5952 text (lower case, the longest run of zero groups as `::`).
    public var description: String {
        switch self {
        case .v4(let bytes):
            return bytes.map(String.init).joined(separator: ".")
        case .v6(let bytes):
            let groups = (0..<8).map { Int(bytes[2 * $0]) << 8 | Int(bytes[2 * $0 + 1]) }
            var best: Range<Int>? = nil
            var start: Int? = nil
            for index in 0...8 {
                if index < 8, groups[index] == 0 {
                    if start == nil { start = index }
                } else if let begin = start {
                    if index - begin >= 2, index - begin > (best?.count ?? 0) { best = begin..<index }
                    start = nil
                }
            }
            let hex = { (range: Range<Int>) in range.map { String(groups[$0], radix: 16) }.joined(separator: ":") }
            guard let zeros = best else { return hex(0..<8) }
            return hex(0..<zeros.lowerBound) + "::" + hex(zeros.upperBound..<8)
        }
    }

    // MARK: Text forms

    static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(\.isASCIIDigit),
                  part == "0" || part.first != "0", let value = UInt8(part)
            else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    static func parseIPv6(_ text: Substring) -> [UInt8]? {
        let halves = text.split(separator: "::", omittingEmptySubsequences: false)
        switch halves.count {
        case 1:
            guard let groups = groups(halves[0]), groups.count == 16 else { return nil }
            return groups
        case 2:
            guard !halves[0].contains("."), let head = groups(halves[0]), let tail = groups(halves[1]),
                  head.count + tail.count <= 14
            else { return nil }
            return head + Array(repeating: 0, count: 16 - head.count - tail.count) + tail
        default:
            return nil
        }
    }

    /// The bytes of colon-separated hex groups, the last of which may be a dotted quad; empty text is
    /// no groups.
    private static func groups(_ text: Substring) -> [UInt8]? {
        if text.isEmpty { return [] }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        var bytes: [UInt8] = []
        for (index, part) in parts.enumerated() {
            if index == parts.count - 1, part.contains(".") {
                guard let quad = parseIPv4(part) else { return nil }
                bytes += quad
            } else {
                guard (1...4).contains(part.count), let value = UInt16(part, radix: 16),
                      part.allSatisfy(\.isHexDigit)
                else { return nil }
                bytes += [UInt8(value >> 8), UInt8(value & 0xff)]
            }
        }
        return bytes
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
