import CGPGME
import Foundation

/// The GPGME library as linked into this process.
public enum GPGME {
    /// GPGME's version, after the one-time initialisation every GPGME program must do first.
    public static let version: String? = gpgme_check_version(nil).map { String(cString: $0) }
}

/// What GPGME's key listing says about one key: the state gpg computed for it and its subkeys.
struct KeyListing: Sendable, Equatable {
    struct Subkey: Sendable, Equatable {
        var fingerprint: String
        var canEncrypt: Bool
        /// Revoked, disabled, or invalid (gpg's flags); expiry is separate, it depends on the time.
        var withdrawn: Bool
        var revoked: Bool
        var created: Date
        var expires: Date?
    }

    var fingerprint: String
    var revoked: Bool
    var disabledOrInvalid: Bool
    /// The primary key first.
    var subkeys: [Subkey]
}

/// One GPGME context on one keyring directory. GPGME contexts must not be shared between threads:
/// a session is made, used and released on one thread (`GPGMESession.run`), and each call in it
/// runs a gpg process to its end.
final class GPGMESession {
    enum Failure: Error, Equatable {
        case engine(String)
        case operation(String)
    }

    private let context: gpgme_ctx_t

    /// Prepares a keyring directory: mode 0700 (gpg warns about others reading it), and a gpg.conf
    /// that keeps gpg from starting a gpg-agent, which only secret keys need and which would outlive
    /// the node.
    static func prepare(home: String) throws {
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: home)
        let conf = home + "/gpg.conf"
        let wanted = "# Written by Postern: only public keys live here.\nno-autostart\n"
        if (try? String(contentsOfFile: conf, encoding: .utf8)) != wanted {
            try wanted.write(toFile: conf, atomically: true, encoding: .utf8)
        }
    }

    init(home: String) throws(Failure) {
        guard GPGME.version != nil else { throw .engine("GPGME did not initialise") }
        var made: gpgme_ctx_t?
        guard gpgme_new(&made) == 0, let made else { throw .engine("gpgme_new failed") }
        guard gpgme_ctx_set_engine_info(made, GPGME_PROTOCOL_OpenPGP, nil, home) == 0 else {
            gpgme_release(made)
            throw .engine("gpg is not installed")
        }
        context = made
    }

    deinit { gpgme_release(context) }

    /// Runs `body` with a new session on `home`, on a thread of `queue`, and returns its result.
    static func run<T: Sendable>(on queue: DispatchQueue, home: String,
                                 _ body: @escaping @Sendable (GPGMESession) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body(try GPGMESession(home: home)) })
            }
        }
    }

    private static func message(_ error: gpgme_error_t) -> String {
        gpgme_strerror(error).map { String(cString: $0) } ?? "error \(error)"
    }

    private func data(_ bytes: [UInt8]) throws(Failure) -> gpgme_data_t {
        var data: gpgme_data_t?
        let made = bytes.withUnsafeBufferPointer { buffer in
            buffer.baseAddress.map {
                $0.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                    gpgme_data_new_from_mem(&data, $0, bytes.count, 1)  // 1: GPGME copies the bytes
                }
            } ?? gpgme_data_new(&data)
        }
        guard made == 0, let data else { throw .engine("gpgme_data_new_from_mem failed") }
        return data
    }

    private static func bytes(of data: gpgme_data_t) -> [UInt8] {
        var size = 0
        guard let pointer = gpgme_data_release_and_get_mem(data, &size) else { return [] }
        defer { gpgme_free(pointer) }
        return Array(UnsafeRawBufferPointer(start: pointer, count: size))
    }

    /// Imports keys; the fingerprints of those imported, and how many secret keys were read.
    func importKeys(_ armored: [UInt8]) throws(Failure) -> (fingerprints: Set<String>, secretKeys: Int) {
        let input = try data(armored)
        defer { gpgme_data_release(input) }
        let status = gpgme_op_import(context, input)
        guard status == 0, let result = gpgme_op_import_result(context) else { throw .operation(Self.message(status)) }
        var fingerprints: Set<String> = []
        var entry = result.pointee.imports
        while let current = entry {
            if current.pointee.result == 0, let fpr = current.pointee.fpr { fingerprints.insert(String(cString: fpr).uppercased()) }
            entry = current.pointee.next
        }
        return (fingerprints, Int(result.pointee.secret_read))
    }

    /// The key with this fingerprint in the keyring, or nil.
    func listing(of fingerprint: String) -> KeyListing? {
        var key: gpgme_key_t?
        guard gpgme_get_key(context, fingerprint, &key, 0) == 0, let key else { return nil }
        defer { gpgme_key_unref(key) }
        var subkeys: [KeyListing.Subkey] = []
        var next = key.pointee.subkeys
        while let subkey = next {
            let s = subkey.pointee
            subkeys.append(.init(
                fingerprint: s.fpr.map { String(cString: $0).uppercased() } ?? "", canEncrypt: s.can_encrypt != 0,
                withdrawn: s.revoked != 0 || s.disabled != 0 || s.invalid != 0, revoked: s.revoked != 0,
                created: Date(timeIntervalSince1970: TimeInterval(s.timestamp)),
                expires: s.expires > 0 ? Date(timeIntervalSince1970: TimeInterval(s.expires)) : nil))
            next = s.next
        }
        return KeyListing(fingerprint: fingerprint.uppercased(), revoked: key.pointee.revoked != 0,
                          disabledOrInvalid: key.pointee.disabled != 0 || key.pointee.invalid != 0, subkeys: subkeys)
    }

    /// The key as binary packets, without third-party signatures.
    func export(_ fingerprint: String) throws(Failure) -> [UInt8] {
        var output: gpgme_data_t?
        guard gpgme_data_new(&output) == 0, let output else { throw .engine("gpgme_data_new failed") }
        gpgme_set_armor(context, 0)
        let status = gpgme_op_export(context, fingerprint, gpgme_export_mode_t(GPGME_EXPORT_MODE_MINIMAL), output)
        let bytes = Self.bytes(of: output)
        guard status == 0 else { throw .operation(Self.message(status)) }
        return bytes
    }

    /// `plain` encrypted by gpg to the key `fingerprint`, armoured.
    func encrypt(_ plain: [UInt8], to fingerprint: String) throws(Failure) -> [UInt8] {
        var key: gpgme_key_t?
        let found = gpgme_get_key(context, fingerprint, &key, 0)
        guard found == 0, let key else { throw .operation("key \(fingerprint) not in the keyring") }
        defer { gpgme_key_unref(key) }
        let input = try data(plain)
        defer { gpgme_data_release(input) }
        var output: gpgme_data_t?
        guard gpgme_data_new(&output) == 0, let output else { throw .engine("gpgme_data_new failed") }
        gpgme_set_armor(context, 1)
        var keys: [gpgme_key_t?] = [key, nil]
        // Always trust: the owner chose this key; there is no web of trust to consult.
        let status = gpgme_op_encrypt(context, &keys, GPGME_ENCRYPT_ALWAYS_TRUST, input, output)
        let bytes = Self.bytes(of: output)
        guard status == 0 else { throw .operation(Self.message(status)) }
        return bytes
    }
}
