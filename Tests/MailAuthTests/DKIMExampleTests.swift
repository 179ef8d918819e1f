import DNS
import Foundation
import MailAuth
import Testing

/// The published examples, from the test data of dkimpy's source distribution, which scripts/setup
/// fetches into Tests/.downloads/dkimpy (not committed): RFC 8463's example message (appendix A.3, the
/// RFC 6376 appendix A message signed with Ed25519 and RSA), the same with its RSA signature alone, and
/// a message signed by another implementation (Exim) with Ed25519. The files have LF line ends; mail
/// on the wire has CR LF, which the signatures were made over.
@Suite struct DKIMExampleTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".downloads/dkimpy")

    /// RFC 8463 appendix A.2: the Ed25519 key of the example.
    static let brisbaneKey = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

    /// A downloaded file; a test fails (never skips) when it is missing.
    static func file(_ name: String) throws -> Data {
        let url = folder.appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            Issue.record("\(url.path) is missing: run scripts/setup, which downloads dkimpy's test data")
            throw MissingData()
        }
        return data
    }

    struct MissingData: Error {}

    static func message(_ name: String) throws -> [UInt8] {
        let text = String(decoding: try file(name), as: UTF8.self)
        return Array(text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n").utf8)
    }

    static func record(_ name: String) throws -> String {
        String(decoding: try file(name), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func zone() throws -> ZoneDNS {
        ZoneDNS(records: [
            "brisbane._domainkey.football.example.com": [.txt([brisbaneKey])],
            // The 1024-bit RSA key of RFC 8463 appendix A.2 (and RFC 6376 appendix C).
            "test._domainkey.football.example.com": [.txt(try splitTXT(record("test.txt")))],
            "sed._domainkey.test.ex": [.txt(try splitTXT(record("eximtest.dns")))],
        ])
    }

    /// A long record as DNS holds it: strings of at most 255 octets.
    static func splitTXT(_ text: String) -> [String] {
        stride(from: 0, to: text.count, by: 255).map { start in
            let from = text.index(text.startIndex, offsetBy: start)
            return String(text[from..<(text.index(from, offsetBy: 255, limitedBy: text.endIndex) ?? text.endIndex)])
        }
    }

    @Test func rfc8463ExampleWithEd25519AndRSA() async throws {
        let verifier = DKIMVerifier(dns: try Self.zone())
        let verdicts = await verifier.verify(try Self.message("rfc6376.signed.msg"))
        #expect(verdicts == [
            DKIMVerdict(result: .pass, domain: "football.example.com", selector: "brisbane"),
            DKIMVerdict(result: .pass, domain: "football.example.com", selector: "test"),
        ])
    }

    @Test func rfc6376MessageWithItsRSASignature() async throws {
        let verifier = DKIMVerifier(dns: try Self.zone())
        let message = try Self.message("rfc6376.signed.rsa.msg")
        #expect(await verifier.verify(message) == [DKIMVerdict(result: .pass, domain: "football.example.com", selector: "test")])
        // Simple canonicalization: one more space in a signed field breaks it.
        let text = String(decoding: message, as: UTF8.self).replacingOccurrences(of: "Subject: Is", with: "Subject:  Is")
        #expect(await verifier.verify(Array(text.utf8)).map(\.result) == [.fail])
    }

    @Test func ed25519SignatureFromAnotherImplementation() async throws {
        let verifier = DKIMVerifier(dns: try Self.zone())
        #expect(await verifier.verify(try Self.message("ed25519test2.msg")) == [
            DKIMVerdict(result: .pass, domain: "test.ex", selector: "sed"),
        ])
    }

    /// The same messages with their keys served by a zone that fails: no verdict is a pass.
    @Test func keysThatCannotBeLookedUpGiveTemperror() async throws {
        let verifier = DKIMVerifier(dns: ZoneDNS(failing: ["brisbane._domainkey.football.example.com",
                                                            "test._domainkey.football.example.com"]))
        let verdicts = await verifier.verify(try Self.message("rfc6376.signed.msg"))
        #expect(verdicts.map(\.result) == [.temperror, .temperror])
    }
}
