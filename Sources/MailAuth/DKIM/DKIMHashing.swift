import Crypto
import MailCore

/// The body hashes of one message, each computed once: a message with several signatures hashes its body
/// at most once per (canonicalization, `l=`) pair, and canonicalizes it at most once per canonicalization.
struct DKIMBodyHashes {
    struct Key: Hashable {
        var canonicalization: DKIMCanonicalizationKind
        var length: Int?
    }

    let body: ArraySlice<UInt8>
    private var canonical: [DKIMCanonicalizationKind: [UInt8]] = [:]
    private var digests: [Key: [UInt8]] = [:]

    init(body: ArraySlice<UInt8>) { self.body = body }

    /// The canonicalized body's length, and the SHA-256 of its first `length` octets (all without a
    /// length); `nil` when `length` is more than there is.
    mutating func digest(_ canonicalization: DKIMCanonicalizationKind, length: Int?)
        -> (digest: [UInt8]?, canonicalLength: Int)
    {
        let text = canonicalBody(canonicalization)
        if let length, length > text.count { return (nil, text.count) }
        let key = Key(canonicalization: canonicalization, length: length)
        if let known = digests[key] { return (known, text.count) }
        let digest = Array(SHA256.hash(data: text[0..<(length ?? text.count)]))
        digests[key] = digest
        return (digest, text.count)
    }

    private mutating func canonicalBody(_ canonicalization: DKIMCanonicalizationKind) -> [UInt8] {
        if let known = canonical[canonicalization] { return known }
        let text = canonicalization == .simple ? DKIMCanonicalization.simpleBody(body)
            : DKIMCanonicalization.relaxedBody(body)
        canonical[canonicalization] = text
        return text
    }
}

/// The header hash input of a signature (RFC 6376 §3.7, §5.4.2).
enum DKIMHeaderHash {
    /// The fields `h=` names, each taking the last instance not yet used, from the bottom up; a name with
    /// no instance left adds nothing (so an oversigned name keeps another instance from being added). Then
    /// the signature field itself with an empty `b=`, without its final line end.
    static func input(fields: [HeaderField], signatureIndex: Int, signedFields: [String],
                      canonicalization: DKIMCanonicalizationKind) -> [UInt8]
    {
        var byName: [String: [Int]] = [:]
        for index in fields.indices where index != signatureIndex {
            byName[fields[index].name.lowercased(), default: []].append(index)
        }
        var out: [UInt8] = []
        for name in signedFields {
            guard let index = byName[name]?.popLast() else { continue }
            out += canonicalize(fields[index].raw, canonicalization, withLineEnd: true)
        }
        let emptied = withoutSignatureValue(fields[signatureIndex].raw)
        out += canonicalize(emptied[...], canonicalization, withLineEnd: false)
        return out
    }

    private static func canonicalize(_ raw: ArraySlice<UInt8>, _ canonicalization: DKIMCanonicalizationKind,
                                     withLineEnd: Bool) -> [UInt8]
    {
        canonicalization == .simple ? DKIMCanonicalization.simpleHeader(raw, withLineEnd: withLineEnd)
            : DKIMCanonicalization.relaxedHeader(raw, withLineEnd: withLineEnd)
    }

    /// The raw field without its final line end and with the value of its `b=` tag removed, the
    /// whitespace around that value included; everything else stays byte for byte.
    static func withoutSignatureValue(_ raw: ArraySlice<UInt8>) -> [UInt8] {
        var end = raw.endIndex
        if end > raw.startIndex, raw[end - 1] == 10 { end -= 1 }
        if end > raw.startIndex, raw[end - 1] == 13 { end -= 1 }
        guard let colon = raw[raw.startIndex..<end].firstIndex(of: UInt8(ascii: ":")) else { return Array(raw[..<end]) }
        var out = Array(raw[raw.startIndex...colon])
        var start = colon + 1
        while start <= end {
            let stop = raw[start..<end].firstIndex(of: UInt8(ascii: ";")) ?? end
            let spec = raw[start..<stop]
            if let equals = spec.firstIndex(of: UInt8(ascii: "=")),
               spec[spec.startIndex..<equals].filter({ ![32, 9, 13, 10].contains($0) }) == [UInt8(ascii: "b")]
            {
                out += spec[spec.startIndex...equals]
            } else {
                out += spec
            }
            if stop < end { out.append(UInt8(ascii: ";")) }
            start = stop + 1
        }
        return out
    }
}
