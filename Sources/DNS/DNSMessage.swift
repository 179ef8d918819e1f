/// DNS messages on the wire (RFC 1035 §4), as far as a mail relay needs them: a query for one name and
/// type, and answers holding MX, A, AAAA, TXT, PTR and CNAME records. Pure: no I/O.
///
/// Decoding never trusts the input: every length is checked, compression pointers may only point
/// backwards and at most 64 of them are followed, so a hostile or truncated answer is an error,
/// never a crash or a loop.
public enum DNSRecordType: UInt16, Sendable {
    case a = 1, cname = 5, ptr = 12, mx = 15, txt = 16, aaaa = 28
}

public enum DNSRecord: Sendable, Hashable {
    case a([UInt8])
    case aaaa([UInt8])
    case cname(String)
    case ptr(String)
    case mx(preference: UInt16, exchange: String)
    case txt([String])
    /// A type this decoder does not read.
    case other(type: UInt16)
}

public struct DNSAnswer: Sendable, Equatable {
    public var name: String
    public var ttl: UInt32
    public var record: DNSRecord
}

public struct DNSResponse: Sendable, Equatable {
    public var id: UInt16
    /// RCODE: 0 no error, 2 server failure, 3 no such name (NXDOMAIN), …
    public var responseCode: UInt8
    /// TC: the answer did not fit a UDP datagram; ask again over TCP.
    public var truncated: Bool
    public var answers: [DNSAnswer]

    public static let noError: UInt8 = 0
    public static let serverFailure: UInt8 = 2
    public static let nameError: UInt8 = 3
}

public enum DNSMessageError: Error, Sendable, Equatable {
    case truncated
    case badName
    case notAResponse
    case idMismatch
    case invalidQueryName
}

public enum DNSMessage {
    /// A recursive query for one name and type.
    public static func query(id: UInt16, name: String, type: DNSRecordType) throws(DNSMessageError) -> [UInt8] {
        var out: [UInt8] = []
        out += be16(id)
        out += [0x01, 0x00]  // RD: recursion desired
        out += be16(1) + be16(0) + be16(0) + be16(0)  // one question
        let trimmed = name.hasSuffix(".") ? String(name.dropLast()) : name
        guard !trimmed.isEmpty, trimmed.utf8.count <= 253 else { throw .invalidQueryName }
        for label in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
            let bytes = Array(label.utf8)
            guard (1...63).contains(bytes.count) else { throw .invalidQueryName }
            out.append(UInt8(bytes.count))
            out += bytes
        }
        out.append(0)
        out += be16(type.rawValue) + be16(1)  // class IN
        return out
    }

    /// Reads a response to the query with `id`.
    public static func decode(_ bytes: [UInt8], expectingID id: UInt16) throws(DNSMessageError) -> DNSResponse {
        var reader = Reader(bytes: bytes)
        let responseID = try reader.u16()
        let flags = try reader.u16()
        guard flags & 0x8000 != 0 else { throw .notAResponse }
        guard responseID == id else { throw .idMismatch }
        let questions = try reader.u16()
        let answerCount = try reader.u16()
        _ = try reader.u16()  // authority
        _ = try reader.u16()  // additional
        for _ in 0..<questions {
            _ = try reader.name()
            try reader.skip(4)
        }
        var answers: [DNSAnswer] = []
        for _ in 0..<answerCount {
            let name = try reader.name()
            let type = try reader.u16()
            _ = try reader.u16()  // class
            let ttl = UInt32(try reader.u16()) << 16 | UInt32(try reader.u16())
            let length = Int(try reader.u16())
            let end = reader.offset + length
            guard end <= bytes.count else { throw .truncated }
            let record: DNSRecord
            switch DNSRecordType(rawValue: type) {
            case .a?:
                guard length == 4 else { throw .truncated }
                record = .a(Array(bytes[reader.offset..<end]))
            case .aaaa?:
                guard length == 16 else { throw .truncated }
                record = .aaaa(Array(bytes[reader.offset..<end]))
            case .cname?:
                record = .cname(try reader.name())
            case .ptr?:
                record = .ptr(try reader.name())
            case .mx?:
                let preference = try reader.u16()
                record = .mx(preference: preference, exchange: try reader.name())
            case .txt?:
                var strings: [String] = []
                var position = reader.offset
                while position < end {
                    let count = Int(bytes[position])
                    guard position + 1 + count <= end else { throw .truncated }
                    strings.append(String(decoding: bytes[(position + 1)..<(position + 1 + count)], as: UTF8.self))
                    position += 1 + count
                }
                record = .txt(strings)
            case nil:
                record = .other(type: type)
            }
            guard reader.offset <= end else { throw .truncated }  // a name must not run past its record
            reader.offset = end
            answers.append(DNSAnswer(name: name, ttl: ttl, record: record))
        }
        return DNSResponse(id: responseID, responseCode: UInt8(flags & 0x000f), truncated: flags & 0x0200 != 0,
                           answers: answers)
    }

    /// Over TCP a message is preceded by its length in two octets (RFC 1035 §4.2.2).
    public static func tcpFramed(_ message: [UInt8]) -> [UInt8] { be16(UInt16(message.count)) + message }

    static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }

    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func u16() throws(DNSMessageError) -> UInt16 {
            guard offset + 2 <= bytes.count else { throw .truncated }
            defer { offset += 2 }
            return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
        }

        mutating func skip(_ count: Int) throws(DNSMessageError) {
            guard offset + count <= bytes.count else { throw .truncated }
            offset += count
        }

        /// A possibly compressed name; `offset` moves past it (not past what a pointer points at).
        mutating func name() throws(DNSMessageError) -> String {
            var labels: [String] = []
            var position = offset
            var jumped = false
            var jumps = 0
            var total = 0
            while true {
                guard position < bytes.count else { throw .truncated }
                let length = Int(bytes[position])
                if length == 0 {
                    if !jumped { offset = position + 1 }
                    break
                }
                if length & 0xc0 == 0xc0 {
                    guard position + 1 < bytes.count else { throw .truncated }
                    let target = (length & 0x3f) << 8 | Int(bytes[position + 1])
                    guard target < position, jumps < 64 else { throw .badName }  // only backwards: no loops
                    if !jumped { offset = position + 2 }
                    jumped = true
                    jumps += 1
                    position = target
                    continue
                }
                guard length <= 63, position + 1 + length <= bytes.count else { throw .badName }
                total += length + 1
                guard total <= 255 else { throw .badName }
                labels.append(String(decoding: bytes[(position + 1)..<(position + 1 + length)], as: UTF8.self))
                position += 1 + length
            }
            return labels.joined(separator: ".").lowercased()
        }
    }
}
