import Crypto
import DNS
import Foundation
import MailCore

/// Verifies the DKIM signatures of a message (RFC 6376 §6), with ed25519-sha256 (RFC 8463) and the
/// algorithm rules of RFC 8301.
///
/// Results, one per DKIM-Signature field from the top, at most `maxSignatures` (later ones are ignored):
/// - `pass`: the body hash and the signature verify with the published key, and the signature covers
///   the whole body.
/// - `fail`: the body hash or the signature does not match (the message changed, or the key did).
/// - `policy`: the signature may be right but is not accepted: rsa-sha1, an RSA key under 1024 bits
///   (RFC 8301), or `l=` shorter than the body. An `l=` signature verifies only what it covers, and
///   anyone can append text after it (RFC 6376 §8.2), so content beyond `l=` never gets a pass.
/// - `permerror`: the signature or its key record cannot be used: a missing or malformed tag, `h=`
///   without From, `i=` outside `d=`, an expired `x=`, no key record, a revoked key (empty `p=`), a
///   key of the wrong type, for another service or hash.
/// - `temperror`: the key could not be looked up now.
public struct DKIMVerifier: Sendable {
    private let dns: any MailAuthDNS
    private let now: @Sendable () -> Date
    private let maxSignatures: Int

    public init(dns: any MailAuthDNS, now: @escaping @Sendable () -> Date = Date.init, maxSignatures: Int = 8) {
        self.dns = dns
        self.now = now
        self.maxSignatures = maxSignatures
    }

    /// One verdict per DKIM-Signature field (up to the cap), in the order of the header; empty when the
    /// message is not signed.
    public func verify(_ message: [UInt8]) async -> [DKIMVerdict] {
        let (fields, bodyStart) = HeaderField.split(message)
        let signatures = fields.indices.filter { fields[$0].isNamed("DKIM-Signature") }.prefix(max(0, maxSignatures))
        guard !signatures.isEmpty else { return [] }
        var bodies = DKIMBodyHashes(body: message[bodyStart...])
        var verdicts: [DKIMVerdict] = []
        for index in signatures {
            verdicts.append(await verify(fields: fields, signatureIndex: index, bodies: &bodies))
        }
        return verdicts
    }

    private func verify(fields: [HeaderField], signatureIndex: Int, bodies: inout DKIMBodyHashes) async -> DKIMVerdict {
        let value = fields[signatureIndex].value
        let names = DKIMSignature.names(in: value)
        func verdict(_ result: DKIMResult, _ reason: String) -> DKIMVerdict {
            DKIMVerdict(result: result, domain: names.domain, selector: names.selector, reason: reason)
        }

        let signature: DKIMSignature
        do throws(DKIMRejection) {
            signature = try DKIMSignature.parse(value, now: now())
        } catch {
            return verdict(error.result, error.reason)
        }

        // The key (§6.1.2).
        let keyName = "\(signature.selector)._domainkey.\(signature.domain)"
        let key: DKIMPublicKey
        switch await dns.lookup(keyName, .txt) {
        case .failed(let reason):
            return verdict(.temperror, "the key at \(keyName) could not be looked up: \(reason)")
        case .noSuchName:
            return verdict(.permerror, "no key at \(keyName)")
        case .found(let records):
            let texts = DNSLookup.found(records).texts ?? []
            guard !texts.isEmpty else { return verdict(.permerror, "no key at \(keyName)") }
            var firstRejection: DKIMRejection?
            var found: DKIMPublicKey?
            // Several records for one selector are an error of the domain (§3.6.2.2): the first usable one counts.
            for text in texts {
                do throws(DKIMRejection) {
                    found = try DKIMPublicKey.parse(text, for: signature)
                    break
                } catch {
                    firstRejection = firstRejection ?? error
                }
            }
            guard let found else {
                let rejection = firstRejection ?? .permerror("no key")
                return verdict(rejection.result, rejection.reason)
            }
            key = found
        }

        // The body hash, then the signature (§6.1.3).
        let body = bodies.digest(signature.bodyCanonicalization, length: signature.bodyLength)
        guard let bodyHash = body.digest else {
            return verdict(.fail, "l=\(signature.bodyLength ?? 0) is longer than the body (\(body.canonicalLength) octets)")
        }
        guard bodyHash == signature.bodyHash else { return verdict(.fail, "the body hash does not match") }
        let input = DKIMHeaderHash.input(fields: fields, signatureIndex: signatureIndex,
                                         signedFields: signature.signedFields,
                                         canonicalization: signature.headerCanonicalization)
        guard key.isValid(signature.signature, digest: SHA256.hash(data: input)) else {
            return verdict(.fail, "the signature does not verify")
        }
        if let length = signature.bodyLength, length < body.canonicalLength {
            return verdict(.policy, "the signature covers \(length) of \(body.canonicalLength) body octets (l=)")
        }
        var passed = verdict(.pass, "")
        passed.signedFields = signature.signedFields
        return passed
    }
}
