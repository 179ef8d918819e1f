import Foundation
@testable import OpenPGP
import TestSupport
import Testing

/// Encryption to real keys made by gpg, checked by decrypting with gpg and the secret key.
@Suite struct KeyringTests {
    static func keyring() throws -> Keyring {
        try Keyring(directory: NSTemporaryDirectory() + "postern-keyring-" + UUID().uuidString)
    }

    @Test(arguments: [GnuPGHome.Kind.rsa3072, .rsa4096, .ed25519, .nistp256, .dsaElgamal])
    func encryptsToEveryKindOfKeyAndGPGDecrypts(kind: GnuPGHome.Kind) async throws {
        let (home, keys) = try await GnuPGHome.shared()
        let testKey = try #require(keys[kind])
        let keyring = try Self.keyring()
        let key = try #require(try await keyring.key(fingerprint: testKey.fingerprint, digest: "1") { testKey.publicKey })
        #expect(key.problem() == nil)
        // RSA and ECDH are encrypted to here; DSA/ElGamal by gpg through GPGME.
        let subkey = try #require(key.encryptionSubkey(at: Date()))
        #expect((key.material[subkey.fingerprint] != nil) == (kind != .dsaElgamal))
        if let material = key.material[subkey.fingerprint] {
            // The native path itself (encrypt falls back to gpg when it fails).
            let native = Armor.message(try MessageEncryption.encrypt(Array("native".utf8), to: material))
            #expect(try await home.decrypt(Array(native.utf8)) == Array("native".utf8))
        }
        for size in [0, 100, 191, 192, 8383, 8384, 300_000] {
            let plain = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let encrypted = try await keyring.encrypt(plain, to: key)
            #expect(String(decoding: encrypted.prefix(27), as: UTF8.self) == "-----BEGIN PGP MESSAGE-----")
            let bareLF = encrypted.indices.contains { encrypted[$0] == 10 && ($0 == 0 || encrypted[$0 - 1] != 13) }
            #expect(!bareLF, "armour for mail has CR LF line ends")
            let decrypted = try await home.decrypt(encrypted)
            #expect(decrypted == plain, "\(kind) \(size) octets")
        }
    }

    @Test(arguments: [(GnuPGHome.Kind.signOnly, "noEncryptionSubkey"), (.expired, "expired"), (.revoked, "revoked")])
    func keysThatCannotEncryptAreRefused(kind: GnuPGHome.Kind, problem: String) async throws {
        let (_, keys) = try await GnuPGHome.shared()
        let testKey = try #require(keys[kind])
        let keyring = try Self.keyring()
        let key = try #require(try await keyring.key(fingerprint: testKey.fingerprint, digest: "1") { testKey.publicKey })
        let found = try #require(key.problem())
        #expect("\(found)".contains(problem == "noEncryptionSubkey" ? "only sign" : problem))
        switch (found, problem) {
        case (.noEncryptionSubkey, "noEncryptionSubkey"), (.expired(.some), "expired"), (.revoked, "revoked"): break
        default: Issue.record("\(kind): \(found)")
        }
        await #expect(throws: KeyProblem.self) { try await keyring.encrypt([1, 2, 3], to: key) }
        // The API's upload check says the same, and why.
        await #expect(throws: PublicKeyCheck.Problem.cannotEncrypt(found)) {
            try await PublicKeyCheck.fingerprint(of: testKey.publicKey)
        }
    }

    @Test func uploadCheckTellsTheFingerprintAndRefusesSecretsAndJunk() async throws {
        let (home, keys) = try await GnuPGHome.shared()
        let rsa = try #require(keys[.rsa3072])
        #expect(try await PublicKeyCheck.fingerprint(of: rsa.publicKey) == rsa.fingerprint)
        await #expect(throws: PublicKeyCheck.Problem.notArmoredPublicKey) { try await PublicKeyCheck.fingerprint(of: "hello") }
        let secret = try await home.secretKey(rsa.email)
        await #expect(throws: PublicKeyCheck.Problem.secretKey) {
            try await PublicKeyCheck.fingerprint(of: rsa.publicKey + "\n" + secret)
        }
        let two = rsa.publicKey + "\n" + (keys[.ed25519]?.publicKey ?? "")
        await #expect(throws: PublicKeyCheck.Problem.severalKeys) { try await PublicKeyCheck.fingerprint(of: two) }
        let damaged = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n"
        await #expect(throws: PublicKeyCheck.Problem.notAKey) { try await PublicKeyCheck.fingerprint(of: damaged) }
    }

    @Test func keysAreReadFromTheDatabaseOnlyWhenTheKeyringLacksThatCopy() async throws {
        let (_, keys) = try await GnuPGHome.shared()
        let testKey = try #require(keys[.ed25519])
        let directory = NSTemporaryDirectory() + "postern-keyring-" + UUID().uuidString
        let fetches = Counter()
        let keyring = try Keyring(directory: directory)
        _ = try await keyring.key(fingerprint: testKey.fingerprint, digest: "a") { await fetches.add(); return testKey.publicKey }
        _ = try await keyring.key(fingerprint: testKey.fingerprint, digest: "a") { await fetches.add(); return testKey.publicKey }
        #expect(await fetches.value == 1)
        _ = try await keyring.key(fingerprint: testKey.fingerprint, digest: "b") { await fetches.add(); return testKey.publicKey }
        #expect(await fetches.value == 2)

        // A restarted node with the database down still has its keyring on disk.
        struct Down: Error {}
        let restarted = try Keyring(directory: directory)
        let kept = try await restarted.key(fingerprint: testKey.fingerprint, digest: "b") { throw Down() }
        #expect(kept?.fingerprint == testKey.fingerprint)
        // A node without the key, with the database down, cannot tell yet; one whose database no
        // longer has the key has none.
        let empty = try Self.keyring()
        await #expect(throws: Keyring.Unavailable.self) {
            try await empty.key(fingerprint: testKey.fingerprint, digest: "b") { throw Down() }
        }
        #expect(try await empty.key(fingerprint: testKey.fingerprint, digest: "b") { nil } == nil)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory)
        #expect((attributes[.posixPermissions] as? Int) == 0o700)
    }
}

actor Counter {
    var value = 0
    func add() { value += 1 }
}

/// The packet framing and armour, as pure values.
@Suite struct PacketFormatTests {
    @Test func lengthsRoundTripAcrossTheirEncodings() throws {
        for size in [0, 1, 191, 192, 193, 8383, 8384, 70_000] {
            let packet = PacketFormat.packet(.literalData, [UInt8](repeating: 0x5A, count: size))
            let read = try PacketFormat.packets(in: packet)
            #expect(read == [Packet(tag: 11, body: [UInt8](repeating: 0x5A, count: size)[...])])
        }
        #expect(PacketFormat.length(191) == [191])
        #expect(PacketFormat.length(192) == [192, 0])
        #expect(PacketFormat.length(8383) == [223, 255])
        #expect(PacketFormat.length(8384) == [255, 0, 0, 0x20, 0xC0])
        #expect(throws: PacketFormatError.truncated) { try PacketFormat.packets(in: [0xCB, 5, 1, 2]) }
        // Old format, one-octet length; partial body lengths are joined.
        #expect(try PacketFormat.packets(in: [0x99, 0, 1, 7]).first?.body == [7])
        #expect(try PacketFormat.packets(in: [0xCB, 0xE1, 1, 2, 1, 3]).first?.body == [1, 2, 3])
    }

    @Test func mpisDropLeadingZerosAndCountBits() throws {
        #expect(PacketFormat.mpi([0, 0, 1]) == [0, 1, 1])
        #expect(PacketFormat.mpi([0x40] + [UInt8](repeating: 1, count: 32)).prefix(2) == [0x01, 0x07])
        var index = 0
        #expect(try PacketFormat.mpi([0, 9, 0x01, 0xFF][...], at: &index) == [0x01, 0xFF])
        #expect(index == 4)
        #expect(throws: PacketFormatError.badMPI) { var at = 0; _ = try PacketFormat.mpi([0, 16, 1][...], at: &at) }
    }

    @Test func armourHasTheChecksumOfRFC4880() {
        #expect(Armor.crc24([]) == 0xB704CE)
        let text = Armor.message(Array("hello".utf8))
        #expect(text.hasPrefix("-----BEGIN PGP MESSAGE-----\r\n\r\naGVsbG8=\r\n="))
        #expect(text.hasSuffix("\r\n-----END PGP MESSAGE-----\r\n"))
    }
}
