/// OpenPGP packet framing (RFC 4880 §4.2, RFC 9580 §4.2): reading packets of both header formats,
/// writing new-format packets, and multiprecision integers. Pure: no I/O.
enum PacketTag: UInt8 {
    case publicKeyEncryptedSessionKey = 1
    case signature = 2
    case publicKey = 6
    case literalData = 11
    case userID = 13
    case publicSubkey = 14
    case symmetricallyEncryptedIntegrityProtectedData = 18
    case modificationDetectionCode = 19
}

struct Packet: Equatable {
    var tag: UInt8
    var body: ArraySlice<UInt8>
}

enum PacketFormatError: Error, Equatable {
    case truncated
    case indeterminateLength
    case badMPI
}

enum PacketFormat {
    /// The packets of a transferable key or message, in order. Partial body lengths are joined.
    static func packets(in bytes: [UInt8]) throws(PacketFormatError) -> [Packet] {
        var packets: [Packet] = []
        var index = 0
        while index < bytes.count {
            let first = bytes[index]
            guard first & 0x80 != 0 else { throw .truncated }
            index += 1
            if first & 0x40 == 0 {
                // Old format: tag in bits 5–2, length type in bits 1–0.
                let tag = (first >> 2) & 0x0F
                let lengthSize: Int
                switch first & 0x03 {
                case 0: lengthSize = 1
                case 1: lengthSize = 2
                case 2: lengthSize = 4
                default: throw .indeterminateLength
                }
                guard index + lengthSize <= bytes.count else { throw .truncated }
                var length = 0
                for byte in bytes[index..<index + lengthSize] { length = length << 8 | Int(byte) }
                index += lengthSize
                guard length <= bytes.count - index else { throw .truncated }
                packets.append(Packet(tag: tag, body: bytes[index..<index + length]))
                index += length
            } else {
                let tag = first & 0x3F
                var body: [UInt8] = []
                var partial = true
                var whole: ArraySlice<UInt8>?
                while partial {
                    guard index < bytes.count else { throw .truncated }
                    let octet = Int(bytes[index])
                    var length: Int
                    partial = false
                    switch octet {
                    case 0..<192:
                        length = octet
                        index += 1
                    case 192..<224:
                        guard index + 1 < bytes.count else { throw .truncated }
                        length = ((octet - 192) << 8) + Int(bytes[index + 1]) + 192
                        index += 2
                    case 255:
                        guard index + 4 < bytes.count else { throw .truncated }
                        length = 0
                        for byte in bytes[index + 1...index + 4] { length = length << 8 | Int(byte) }
                        index += 5
                    default:
                        length = 1 << (octet & 0x1F)
                        index += 1
                        partial = true
                    }
                    guard length <= bytes.count - index else { throw .truncated }
                    if !partial, body.isEmpty, whole == nil {
                        whole = bytes[index..<index + length]
                    } else {
                        body += bytes[index..<index + length]
                    }
                    index += length
                }
                packets.append(Packet(tag: tag, body: whole ?? body[...]))
            }
        }
        return packets
    }

    /// A new-format packet: tag, definite length, body.
    static func packet(_ tag: PacketTag, _ body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0xC0 | tag.rawValue]
        out.reserveCapacity(body.count + 6)
        out += length(body.count)
        out += body
        return out
    }

    static func length(_ count: Int) -> [UInt8] {
        switch count {
        case 0..<192: return [UInt8(count)]
        case 192..<8384:
            let value = count - 192
            return [UInt8(value >> 8 + 192), UInt8(value & 0xFF)]
        default:
            return [0xFF, UInt8(count >> 24 & 0xFF), UInt8(count >> 16 & 0xFF), UInt8(count >> 8 & 0xFF), UInt8(count & 0xFF)]
        }
    }

    /// Reads one MPI at `index`: two octets of bit count, then the big-endian value.
    static func mpi(_ bytes: ArraySlice<UInt8>, at index: inout Int) throws(PacketFormatError) -> ArraySlice<UInt8> {
        guard index + 2 <= bytes.endIndex else { throw .badMPI }
        let bits = Int(bytes[index]) << 8 | Int(bytes[index + 1])
        let count = (bits + 7) / 8
        index += 2
        guard index + count <= bytes.endIndex else { throw .badMPI }
        defer { index += count }
        return bytes[index..<index + count]
    }

    /// `value` (big-endian, leading zero octets allowed) as an MPI.
    static func mpi(_ value: some Collection<UInt8>) -> [UInt8] {
        let trimmed = value.drop { $0 == 0 }
        guard let top = trimmed.first else { return [0, 0] }
        let bits = (trimmed.count - 1) * 8 + (8 - top.leadingZeroBitCount)
        return [UInt8(bits >> 8), UInt8(bits & 0xFF)] + trimmed
    }
}
