/// The shapes of an OpenPGP-encrypted copy (SPEC §5): PGP/MIME (RFC 3156) with, if wanted, protected
/// headers (`protected-headers="v1"`: the real header fields inside, `Subject: ...` outside), or
/// inline armoured text for a text/plain body. Pure: the encryption itself is done by the caller
/// between `plan` and `assemble`.
public enum EncryptedMessage {
    /// The fields copied into the encrypted part when headers are protected.
    static let protectedFields = ["From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To", "References"]

    /// What is encrypted, and how the copy is put together around the armoured result.
    public struct Plan: Sendable, Equatable {
        public var plaintext: [UInt8]
        /// The header of the copy, the blank line, and what comes before the armoured text.
        var head: [UInt8]
        /// What follows the armoured text.
        var tail: [UInt8]

        public func assemble(armored: [UInt8]) -> [UInt8] { head + armored + tail }
    }

    /// Mail already encrypted end to end passes unchanged: PGP/MIME, S/MIME enveloped data, or a
    /// text/plain body that is one armoured PGP message and nothing else (readable text around an
    /// armoured block is encrypted like any text).
    public static func isEncrypted(_ message: [UInt8]) -> Bool {
        let entity = MIMEEntity(message: message)
        switch entity.contentType.mimeType {
        case "multipart/encrypted": return true
        case "application/pkcs7-mime", "application/x-pkcs7-mime":
            // Signed-only S/MIME (signed-data) is readable by anyone; no smime-type is taken as enveloped.
            let kind = entity.contentType.parameters["smime-type"]?.lowercased()
            return kind == nil || kind == "enveloped-data" || kind == "authenveloped-data"
        case "text/plain":
            let encoding = TransferEncoding(entity.field("Content-Transfer-Encoding")?.value)
            let text = encoding.decode(message[entity.bodyRange])
            let trimmed = text.drop { isSpace($0) }.reversed().drop { isSpace($0) }.reversed()
            return trimmed.starts(with: Array("-----BEGIN PGP MESSAGE-----".utf8))
                && trimmed.reversed().starts(with: Array("-----END PGP MESSAGE-----".utf8).reversed())
        default: return false
        }
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 32 || byte == 9 || byte == 13 || byte == 10 }

    /// How to encrypt `message`. Inline only for a single text/plain body; PGP/MIME otherwise.
    /// `boundary` must not occur in armoured text (any token with a character outside base64 works).
    public static func plan(_ message: [UInt8], inline: Bool, protectedHeaders: Bool, boundary: String) -> Plan {
        let entity = MIMEEntity(message: message)
        let body = Array(message[entity.bodyRange])
        if inline, entity.contentType.mimeType == "text/plain" {
            let encoding = TransferEncoding(entity.field("Content-Transfer-Encoding")?.value)
            var head: [UInt8] = []
            for field in entity.fields where !field.isNamed("Content-Transfer-Encoding") { head += field.raw }
            head += Array("Content-Transfer-Encoding: 7bit\r\n\r\n".utf8)
            return Plan(plaintext: encoding.decode(body[...]), head: head, tail: [])
        }

        let isContent = { (field: HeaderField) in field.name.lowercased().hasPrefix("content-") }
        var inner: [UInt8] = []
        if protectedHeaders {
            for field in entity.fields where protectedFields.contains(where: field.isNamed) { inner += field.raw }
        }
        var hasType = false
        for field in entity.fields where isContent(field) {
            if field.isNamed("Content-Type"), protectedHeaders {
                hasType = true
                inner += withParameter(field.raw, "protected-headers=\"v1\"")
            } else {
                hasType = hasType || field.isNamed("Content-Type")
                inner += field.raw
            }
        }
        if !hasType {
            inner += Array("Content-Type: text/plain; charset=us-ascii\(protectedHeaders ? "; protected-headers=\"v1\"" : "")\r\n".utf8)
        }
        inner += [13, 10]
        inner += body

        var head: [UInt8] = []
        for field in entity.fields where !isContent(field) && !field.isNamed("MIME-Version") {
            head += protectedHeaders && field.isNamed("Subject") ? Array("Subject: ...\r\n".utf8) : Array(field.raw)
        }
        head += Array("""
            MIME-Version: 1.0\r
            Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";\r
             boundary="\(boundary)"\r
            \r
            This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156).\r
            --\(boundary)\r
            Content-Type: application/pgp-encrypted\r
            Content-Description: PGP/MIME version identification\r
            \r
            Version: 1\r
            \r
            --\(boundary)\r
            Content-Type: application/octet-stream; name="encrypted.asc"\r
            Content-Description: OpenPGP encrypted message\r
            Content-Disposition: inline; filename="encrypted.asc"\r
            \r

            """.utf8)
        return Plan(plaintext: inner, head: head, tail: Array("\r\n--\(boundary)--\r\n".utf8))
    }

    /// A raw field with `; parameter` added at the end of its value.
    static func withParameter(_ raw: ArraySlice<UInt8>, _ parameter: String) -> [UInt8] {
        var value = Array(raw)
        var end = value.count
        while end > 0, value[end - 1] == 13 || value[end - 1] == 10 { end -= 1 }
        value.insert(contentsOf: Array("; \(parameter)".utf8), at: end)
        if end == value.count - parameter.utf8.count - 2 { value += [13, 10] }
        return value
    }
}
