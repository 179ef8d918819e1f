import Foundation

/// Content-Transfer-Encoding (RFC 2045 §6): how a part's bytes are written on the wire.
public enum TransferEncoding: Sendable, Equatable {
    case identity  // 7bit, 8bit, binary, or none given
    case quotedPrintable
    case base64

    public init(_ value: String?) {
        switch value?.lowercased().trimmingWhitespace() {
        case "quoted-printable": self = .quotedPrintable
        case "base64": self = .base64
        default: self = .identity
        }
    }

    /// The decoded bytes, or nil when a base64 body is not valid base64 (a rewrite then leaves it be).
    public func strictDecode(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        guard self == .base64 else { return decode(bytes) }
        let text = bytes.filter { $0 != 13 && $0 != 10 && $0 != 32 && $0 != 9 }
        return Data(base64Encoded: Data(text)).map { [UInt8]($0) }
    }

    public func decode(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        switch self {
        case .identity: return Array(bytes)
        case .base64:
            let text = bytes.filter { $0 != 13 && $0 != 10 && $0 != 32 && $0 != 9 }
            return Data(base64Encoded: Data(text), options: .ignoreUnknownCharacters).map { [UInt8]($0) } ?? Array(bytes)
        case .quotedPrintable: return Self.decodeQuotedPrintable(bytes)
        }
    }

    public func encode(_ bytes: [UInt8]) -> [UInt8] {
        switch self {
        case .identity: return bytes
        case .base64:
            let text = Array(Data(bytes).base64EncodedString().utf8)
            var out: [UInt8] = []
            out.reserveCapacity(text.count + text.count / 38 + 2)
            var index = 0
            while index < text.count {
                out += text[index..<min(index + 76, text.count)]
                out += [13, 10]
                index += 76
            }
            return out
        case .quotedPrintable: return Self.encodeQuotedPrintable(bytes)
        }
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: byte - 48
        case 65...70: byte - 55
        case 97...102: byte - 87
        default: nil
        }
    }

    static func decodeQuotedPrintable(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "=") {
                // A soft line break: `=` then optional blanks then the line end.
                var next = index + 1
                while next < bytes.endIndex, bytes[next] == 32 || bytes[next] == 9 { next += 1 }
                if next < bytes.endIndex, bytes[next] == 13 || bytes[next] == 10 {
                    if bytes[next] == 13, next + 1 < bytes.endIndex, bytes[next + 1] == 10 { next += 1 }
                    index = next + 1
                    continue
                }
                if next == bytes.endIndex { break }
                if index + 2 < bytes.endIndex, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) {
                    out.append(high << 4 | low)
                    index += 3
                    continue
                }
            }
            out.append(byte)
            index += 1
        }
        return out
    }

    /// Lines of at most 76 characters; line ends kept as hard breaks; `=`, control and 8-bit bytes,
    /// and blanks before a line end encoded.
    static func encodeQuotedPrintable(_ bytes: [UInt8]) -> [UInt8] {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        var line = 0
        var index = 0
        func emit(_ piece: [UInt8]) {
            if line + piece.count > 75 {
                out += [UInt8(ascii: "="), 13, 10]
                line = 0
            }
            out += piece
            line += piece.count
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 13, index + 1 < bytes.count, bytes[index + 1] == 10 {
                out += [13, 10]
                line = 0
                index += 2
                continue
            }
            let atLineEnd = index + 1 == bytes.count || bytes[index + 1] == 13
            let plain = (33...126).contains(byte) && byte != UInt8(ascii: "=") || ((byte == 32 || byte == 9) && !atLineEnd)
            emit(plain ? [byte] : [UInt8(ascii: "="), hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            index += 1
        }
        return out
    }
}
