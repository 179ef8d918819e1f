import DNS
import Testing

/// Builds DNS answers by hand, with compression pointers, the way servers send them.
struct ResponseBuilder {
    var bytes: [UInt8] = []

    static func name(_ text: String) -> [UInt8] {
        text.split(separator: ".").flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0]
    }

    /// A response to `id` for `question` (MX), with the question at offset 12 so answers can point at it.
    init(id: UInt16, flags: UInt16 = 0x8180, question: String, answers: [[UInt8]]) {
        bytes = [UInt8(id >> 8), UInt8(id & 0xff), UInt8(flags >> 8), UInt8(flags & 0xff), 0, 1, 0, UInt8(answers.count), 0, 0, 0, 0]
        bytes += Self.name(question) + [0, 15, 0, 1]
        for answer in answers { bytes += answer }
    }

    /// A resource record whose owner name is a pointer to the question's name (offset 12).
    static func record(type: UInt16, ttl: UInt32 = 300, data: [UInt8]) -> [UInt8] {
        [0xc0, 12, UInt8(type >> 8), UInt8(type & 0xff), 0, 1,
         UInt8(ttl >> 24), UInt8(ttl >> 16 & 0xff), UInt8(ttl >> 8 & 0xff), UInt8(ttl & 0xff),
         UInt8(data.count >> 8), UInt8(data.count & 0xff)] + data
    }
}

@Suite struct DNSMessageTests {
    @Test func encodesAQuery() throws {
        let query = try DNSMessage.query(id: 0x1234, name: "relay.test.", type: .mx)
        #expect(query == [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                          5, 0x72, 0x65, 0x6c, 0x61, 0x79, 4, 0x74, 0x65, 0x73, 0x74, 0, 0, 15, 0, 1])
        #expect(DNSMessage.tcpFramed(query).prefix(2) == [0, UInt8(query.count)])
        for bad in ["", ".", "a..b", String(repeating: "x", count: 64) + ".example", String(repeating: "abcdefghi.", count: 26)] {
            #expect(throws: DNSMessageError.invalidQueryName) { try DNSMessage.query(id: 1, name: bad, type: .a) }
        }
    }

    static let sample: [UInt8] = {
        // mx1 is written out relative to the question (pointer to "example.com" at offset 12);
        // mx2 points into mx1's name.
        let mx1Data: [UInt8] = [0, 10, 3, 0x6d, 0x78, 0x31, 0xc0, 12]
        let answers = [
            ResponseBuilder.record(type: 15, data: mx1Data),
            ResponseBuilder.record(type: 15, data: [0, 20, 3, 0x6d, 0x78, 0x32, 0xc0, 12]),
            ResponseBuilder.record(type: 1, ttl: 60, data: [192, 0, 2, 25]),
            ResponseBuilder.record(type: 28, data: [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1]),
            ResponseBuilder.record(type: 16, data: [11] + Array("v=spf1 -all".utf8) + [3] + Array("abc".utf8)),
            ResponseBuilder.record(type: 5, data: [4] + Array("mail".utf8) + [0xc0, 12]),
            ResponseBuilder.record(type: 99, data: [1, 2, 3]),
        ]
        return ResponseBuilder(id: 77, question: "Example.COM", answers: answers).bytes
    }()

    @Test func decodesRecordsWithCompression() throws {
        let response = try DNSMessage.decode(Self.sample, expectingID: 77)
        #expect(response.responseCode == DNSResponse.noError)
        #expect(!response.truncated)
        #expect(response.answers.map(\.record) == [
            .mx(preference: 10, exchange: "mx1.example.com"), .mx(preference: 20, exchange: "mx2.example.com"),
            .a([192, 0, 2, 25]), .aaaa([0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1]),
            .txt(["v=spf1 -all", "abc"]), .cname("mail.example.com"), .other(type: 99),
        ])
        #expect(response.answers.allSatisfy { $0.name == "example.com" })
        #expect(response.answers[2].ttl == 60)
    }

    @Test func flagsAndErrors() throws {
        let nxdomain = ResponseBuilder(id: 5, flags: 0x8183, question: "nope.example", answers: []).bytes
        #expect(try DNSMessage.decode(nxdomain, expectingID: 5).responseCode == DNSResponse.nameError)
        let truncated = ResponseBuilder(id: 5, flags: 0x8380, question: "big.example", answers: []).bytes
        #expect(try DNSMessage.decode(truncated, expectingID: 5).truncated)
        #expect(throws: DNSMessageError.idMismatch) { try DNSMessage.decode(Self.sample, expectingID: 78) }
        let query = try DNSMessage.query(id: 77, name: "example.com", type: .mx)
        #expect(throws: DNSMessageError.notAResponse) { try DNSMessage.decode(query, expectingID: 77) }
    }

    @Test func everyTruncationIsAnErrorNotACrash() {
        for length in 0..<Self.sample.count {
            #expect(throws: DNSMessageError.self) { try DNSMessage.decode(Array(Self.sample.prefix(length)), expectingID: 77) }
        }
    }

    @Test func pointerLoopsAndForwardPointersAreRefused() {
        // The answer's owner name points at itself.
        var selfLoop = ResponseBuilder(id: 1, question: "a.example", answers: []).bytes
        selfLoop[7] = 1
        let at = selfLoop.count
        selfLoop += [0xc0, UInt8(at), 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]
        #expect(throws: DNSMessageError.badName) { try DNSMessage.decode(selfLoop, expectingID: 1) }
        var forward = ResponseBuilder(id: 1, question: "a.example", answers: []).bytes
        forward[7] = 1
        forward += [0xc0, 0xff, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]
        #expect(throws: DNSMessageError.badName) { try DNSMessage.decode(forward, expectingID: 1) }
    }

    /// Whatever decodes obeys DNS's limits: names of at most 255 octets, in lower case.
    static func checkInvariants(_ response: DNSResponse) {
        for answer in response.answers {
            var names = [answer.name]
            switch answer.record {
            case .mx(_, let exchange): names.append(exchange)
            case .cname(let target): names.append(target)
            default: break
            }
            for name in names {
                #expect(name.utf8.count <= 255, "\(name)")
                #expect(name == name.lowercased())
            }
        }
    }

    @Test func randomAndMutatedBytesNeverCrash() {
        var generator = SplitMix(seed: 20_261_123)
        for _ in 0..<20_000 {
            var bytes = (0..<Int.random(in: 0...120, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if bytes.count > 3 { bytes[0] = 0; bytes[1] = 9; bytes[2] |= 0x80 }  // look like a response to id 9
            if let response = try? DNSMessage.decode(bytes, expectingID: 9) { Self.checkInvariants(response) }
        }
        // A real answer with each byte flipped in turn.
        var decodedMutations = 0
        for index in Self.sample.indices {
            var mutated = Self.sample
            mutated[index] ^= 0xff
            if let response = try? DNSMessage.decode(mutated, expectingID: 77) {
                decodedMutations += 1
                Self.checkInvariants(response)
            }
        }
        #expect(decodedMutations < Self.sample.count, "flipping header bytes must break some decodes")
    }
}

/// A small seeded generator, so the random inputs are the same on every run.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
