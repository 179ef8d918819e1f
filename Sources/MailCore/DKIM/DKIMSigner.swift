import Crypto
import Foundation

/// Signs messages for one domain (RFC 6376), relaxed/relaxed.
public struct DKIMSigner: Sendable {
    public let domain: String
    public let selector: String
    public let key: DKIMKey

    /// The fields signed when present. `from` is listed once more than it appears (oversigned), so a
    /// From added later breaks the signature.
    public static let signedFields = [
        "from", "reply-to", "subject", "date", "to", "cc", "message-id", "in-reply-to", "references", "mime-version",
        "content-type", "content-transfer-encoding", "list-unsubscribe",
    ]

    public init(domain: String, selector: String, key: DKIMKey) {
        self.domain = domain
        self.selector = selector
        self.key = key
    }

    /// The `DKIM-Signature:` field (ending in CR LF) to put on top of `message`.
    public func signatureField(for message: [UInt8], at date: Date = Date()) throws(DKIMKey.Failure) -> [UInt8] {
        let (fields, bodyStart) = HeaderField.split(message)
        let bodyHash = Data(SHA256.hash(data: DKIMCanonicalization.relaxedBody(message[bodyStart...]))).base64EncodedString()

        // Each name in h= takes the last instance not yet used, from the bottom up (§5.4.2).
        var used = Set<Int>()
        var names: [String] = []
        var signedData: [UInt8] = []
        for name in Self.signedFields {
            let instances = fields.indices.filter { fields[$0].name.lowercased() == name }
            for _ in 0..<(instances.count + (name == "from" ? 1 : 0)) {
                names.append(name)
                if let index = instances.last(where: { !used.contains($0) }) {
                    used.insert(index)
                    signedData += DKIMCanonicalization.relaxedHeader(fields[index].raw)
                }
            }
        }
        let value = "v=1; a=\(key.algorithm.tag); c=relaxed/relaxed; d=\(domain); s=\(selector);\r\n\tt=\(Int(date.timeIntervalSince1970)); "
            + "h=\(names.joined(separator: ":"));\r\n\tbh=\(bodyHash);\r\n\tb="
        let unsigned = Array("DKIM-Signature: \(value)".utf8)
        signedData += DKIMCanonicalization.relaxedHeader(unsigned[...], withLineEnd: false)
        let signature = Data(try key.sign(signedData)).base64EncodedString()
        var folded = ""
        var rest = Substring(signature)
        while !rest.isEmpty {
            folded += (folded.isEmpty ? "" : "\r\n\t ") + rest.prefix(72)
            rest = rest.dropFirst(72)
        }
        return unsigned + Array(folded.utf8) + [13, 10]
    }
}
