import DNSResolver
import Foundation
import MailAuth
import TestSupport
import Testing

/// The verifier against signatures made by dkimpy (an independent signer) with keys made by openssl,
/// the keys published by a real DNS server (dnsmasq) and read through `CachingDNS`.
@Suite struct DKIMDnsmasqTests {
    static let message = """
        From: "Ann Example" <ann@sender.test>\r
        To: shop@relay.test\r
        Subject: Order  confirmation\r
        \tfolded\r
        Date: Mon, 23 Nov 2026 10:00:00 +0000\r
        Message-ID: <42@sender.test>\r
        \r
        Your order   ships today.  \r
        \r
        Thanks.\r
        \r
        \r

        """

    /// Keys for `rsa1` (RSA 2048), `ed1` (Ed25519) and `gone` (revoked) under sender.test, on dnsmasq.
    final class Lab: Sendable {
        let folder: String
        let dns: Dnsmasq
        let verifier: DKIMVerifier

        init() async throws {
            folder = NSTemporaryDirectory() + "dkim-lab-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let rsa = try await Self.makeKey(in: folder, name: "rsa1", ["-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:2048"])
            let ed = try await Self.makeKey(in: folder, name: "ed1", ["-algorithm", "ed25519"])
            // RFC 8463 §4: an Ed25519 p= is the bare 32-octet key, the end of the SubjectPublicKeyInfo.
            let records = [
                ("rsa1", "v=DKIM1; k=rsa; p=" + rsa.base64EncodedString()),
                ("ed1", "v=DKIM1; k=ed25519; p=" + ed.suffix(32).base64EncodedString()),
                ("gone", "v=DKIM1; k=rsa; p="),
            ]
            let port = try FreePort.find()
            dns = try Dnsmasq(port: port, records.map { Self.txtRecord("\($0.0)._domainkey.sender.test", $0.1) })
            verifier = DKIMVerifier(dns: CachingDNS(resolver: DNSResolver(host: "127.0.0.1", port: Int(port))))
        }

        /// A PKCS #8 key in `folder/name.pem`; returns its public key's SubjectPublicKeyInfo (DER).
        static func makeKey(in folder: String, name: String, _ options: [String]) async throws -> Data {
            let pem = "\(folder)/\(name).pem"
            let (status, output) = try await MailTestNode.run("openssl", ["genpkey"] + options + ["-out", pem])
            #expect(status == 0, "\(output)")
            let der = "\(folder)/\(name).pub.der"
            let (pubStatus, pubOutput) = try await MailTestNode.run(
                "openssl", ["pkey", "-in", pem, "-pubout", "-outform", "DER", "-out", der])
            #expect(pubStatus == 0, "\(pubOutput)")
            return try Data(contentsOf: URL(fileURLWithPath: der))
        }

        /// dnsmasq's TXT option, the text cut into strings of at most 250 octets (a DNS string holds 255).
        /// Commas separate the strings (quotes are for dnsmasq's configuration file, not its arguments).
        static func txtRecord(_ name: String, _ text: String) -> String {
            var strings: [String] = []
            var rest = Substring(text)
            repeat {
                strings.append(String(rest.prefix(250)))
                rest = rest.dropFirst(250)
            } while !rest.isEmpty
            return "--txt-record=\(name),\(strings.joined(separator: ","))"
        }

        /// `message` signed by dkimpy with the key of `selector` (its file is the key's name).
        func sign(_ message: [UInt8], selector: String, keyName: String? = nil, algorithm: String,
                  canonicalization: String, length: Bool = false) async throws -> [UInt8]
        {
            let input = "\(folder)/\(UUID().uuidString).eml"
            let output = input + ".signed"
            try Data(message).write(to: URL(fileURLWithPath: input))
            let (status, text) = try await MailTestNode.run("python3", [
                MailTestNode.tool("dkim_sign.py"), input, output, "sender.test", selector,
                "\(folder)/\(keyName ?? selector).pem", algorithm, canonicalization,
            ] + (length ? ["length"] : []))
            #expect(status == 0, "\(text)")
            return Array(try Data(contentsOf: URL(fileURLWithPath: output)))
        }

        func close() {
            dns.stop()
            try? FileManager.default.removeItem(atPath: folder)
        }
    }

    struct SigningCase: Sendable, CustomTestStringConvertible {
        var selector: String
        var algorithm: String
        var canonicalization: String
        var testDescription: String { "\(algorithm) \(canonicalization)" }
    }

    static let cases = [
        SigningCase(selector: "rsa1", algorithm: "rsa-sha256", canonicalization: "relaxed/relaxed"),
        SigningCase(selector: "rsa1", algorithm: "rsa-sha256", canonicalization: "simple/simple"),
        SigningCase(selector: "ed1", algorithm: "ed25519-sha256", canonicalization: "relaxed/relaxed"),
        SigningCase(selector: "ed1", algorithm: "ed25519-sha256", canonicalization: "simple/simple"),
        SigningCase(selector: "ed1", algorithm: "ed25519-sha256", canonicalization: "simple/relaxed"),
    ]

    @Test(arguments: cases)
    func dkimpySignaturesPassAndTamperingFails(_ signing: SigningCase) async throws {
        let (selector, algorithm, canonicalization) = (signing.selector, signing.algorithm, signing.canonicalization)
        let lab = try await Lab()
        defer { lab.close() }
        let signed = try await lab.sign(Array(Self.message.utf8), selector: selector, algorithm: algorithm,
                                        canonicalization: canonicalization)
        let verdicts = await lab.verifier.verify(signed)
        #expect(verdicts == [DKIMVerdict(result: .pass, domain: "sender.test", selector: selector)])

        // A trace field added on top keeps the signature valid.
        let relayed = Array("Received: from mx.sender.test by mx.relay.test; Mon, 23 Nov 2026 10:00:01 +0000\r\n".utf8) + signed
        #expect(await lab.verifier.verify(relayed).map(\.result) == [.pass])

        // A changed body fails on its hash.
        let body = Self.replacing("ships today", with: "ships never", in: signed)
        #expect(await lab.verifier.verify(body).map(\.result) == [.fail])
        #expect(await lab.verifier.verify(body).first?.reason.contains("body hash") == true)

        // A changed signed field fails on the signature.
        let subject = Self.replacing("Order  confirmation", with: "Order  cancellation", in: signed)
        #expect(await lab.verifier.verify(subject).map(\.result) == [.fail])
    }

    @Test func aRevokedKeyDoesNotPass() async throws {
        let lab = try await Lab()
        defer { lab.close() }
        // Signed with the RSA key, published (revoked) under the selector `gone`.
        let signed = try await lab.sign(Array(Self.message.utf8), selector: "gone", keyName: "rsa1",
                                        algorithm: "rsa-sha256", canonicalization: "relaxed/relaxed")
        let verdicts = await lab.verifier.verify(signed)
        #expect(verdicts.map(\.result) == [.permerror])
        #expect(verdicts.first?.reason.contains("revoked") == true)
        #expect(verdicts.first?.selector == "gone")
        // A selector with no record at all.
        let unknown = try await lab.sign(Array(Self.message.utf8), selector: "nokey", keyName: "ed1",
                                         algorithm: "ed25519-sha256", canonicalization: "relaxed/relaxed")
        #expect(await lab.verifier.verify(unknown).map(\.result) == [.permerror])
    }

    @Test func textAppendedBeyondLengthDoesNotPass() async throws {
        let lab = try await Lab()
        defer { lab.close() }
        let signed = try await lab.sign(Array(Self.message.utf8), selector: "ed1", algorithm: "ed25519-sha256",
                                        canonicalization: "relaxed/relaxed", length: true)
        #expect(String(decoding: signed, as: UTF8.self).contains("l="))
        #expect(await lab.verifier.verify(signed).map(\.result) == [.pass], "l= covering the whole body")
        let appended = signed + Array("\r\nP.S. Pay to the account below instead.\r\n".utf8)
        let verdicts = await lab.verifier.verify(appended)
        #expect(verdicts.map(\.result) == [.policy])
        #expect(verdicts.first?.reason.contains("l=") == true)
    }

    @Test func eachSignatureGetsItsVerdict() async throws {
        let lab = try await Lab()
        defer { lab.close() }
        // Signed with Ed25519, then To rewritten (breaking that signature), then signed with RSA on top.
        let first = try await lab.sign(Array(Self.message.utf8), selector: "ed1", algorithm: "ed25519-sha256",
                                       canonicalization: "relaxed/relaxed")
        let rewritten = Self.replacing("To: shop@relay.test", with: "To: other@relay.test", in: first)
        let second = try await lab.sign(rewritten, selector: "rsa1", algorithm: "rsa-sha256", canonicalization: "simple/simple")
        let verdicts = await lab.verifier.verify(second)
        #expect(verdicts.map(\.result) == [.pass, .fail])
        #expect(verdicts.map(\.selector) == ["rsa1", "ed1"])

        #expect(await lab.verifier.verify(Array(Self.message.utf8)) == [], "unsigned: no verdict")
    }

    static func replacing(_ old: String, with new: String, in message: [UInt8]) -> [UInt8] {
        let text = String(decoding: message, as: UTF8.self)
        #expect(text.contains(old))
        return Array(text.replacingOccurrences(of: old, with: new).utf8)
    }
}
