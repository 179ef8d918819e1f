import Foundation

private let sharedHomePath = NSTemporaryDirectory() + "postern-gpg-shared-" + UUID().uuidString

/// A throwaway gpg home with real key pairs, made by the `gpg` command-line tool, for tests that
/// encrypt to keys and decrypt what was sent.
public final class GnuPGHome: Sendable {
    /// A key pair in the home.
    public struct Key: Sendable {
        public var email: String
        public var fingerprint: String
        /// The public key, ASCII-armoured (what a user uploads).
        public var publicKey: String
    }

    /// The kinds of key the tests use.
    public enum Kind: String, Sendable, CaseIterable {
        /// Its encryption subkey has expired.
        case expired
        case rsa3072, rsa4096, ed25519, nistp256
        /// DSA with an ElGamal subkey: encrypted to through gpg, not natively.
        case dsaElgamal
        case signOnly
        case revoked
    }

    public let path: String

    public init(path: String = NSTemporaryDirectory() + "postern-gpg-" + UUID().uuidString) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
    }

    /// One home holding a key of every kind, made once per test process (RSA keys take seconds).
    public static func shared() async throws -> (home: GnuPGHome, keys: [Kind: Key]) { try await sharedKeys.value }

    private static let sharedKeys = Task<(home: GnuPGHome, keys: [Kind: Key]), any Error> {
        let home = try GnuPGHome(path: sharedHomePath)
        // The shared home lives until the test process ends; then its gpg-agent goes with it.
        atexit {
            _ = try? MailTestNode.runBlocking("gpgconf", ["--homedir", sharedHomePath, "--kill", "all"])
            try? FileManager.default.removeItem(atPath: sharedHomePath)
        }
        var keys: [Kind: Key] = [:]
        for kind in Kind.allCases { keys[kind] = try await home.make(kind) }
        return (home, keys)
    }

    /// Runs gpg in this home; stdin from `input`. Throws when gpg fails.
    @discardableResult
    public func gpg(_ arguments: [String], input: [UInt8]? = nil) async throws -> [UInt8] {
        let home = path
        return try await offPool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/gpg")
            process.arguments = ["--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", ""] + arguments
            let out = Pipe()
            // Errors go to a file: a second pipe could fill while the first is read.
            let errorPath = home + "/stderr-" + UUID().uuidString
            _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
            defer { try? FileManager.default.removeItem(atPath: errorPath) }
            let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
            defer { try? err.close() }
            let inPipe = Pipe()
            process.standardOutput = out
            process.standardError = err
            process.standardInput = input == nil ? FileHandle.nullDevice : inPipe
            try process.run()
            if let input {
                // gpg reads all of its input before it writes: feed it from another thread.
                let writer = inPipe.fileHandleForWriting
                DispatchQueue.global().async {
                    writer.write(Data(input))
                    try? writer.close()
                }
            }
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                let errors = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
                throw Failure(arguments: arguments, status: process.terminationStatus, output: errors)
            }
            return Array(data)
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var arguments: [String]
        public var status: Int32
        public var output: String
        public var description: String { "gpg \(arguments.joined(separator: " ")) exited \(status): \(output)" }
    }

    /// A new key pair of `kind`, for `KIND@keys.test`.
    public func make(_ kind: Kind) async throws -> Key {
        let email = "\(kind.rawValue.lowercased())@keys.test"
        switch kind {
        case .rsa3072, .rsa4096:
            try await gpg(["--quick-gen-key", email, kind.rawValue, "sign", "never"])
            try await gpg(["--quick-add-key", try await fingerprint(email), kind.rawValue, "encr", "never"])
        case .ed25519, .revoked:
            try await gpg(["--quick-gen-key", email, "ed25519", "sign", "never"])
            try await gpg(["--quick-add-key", try await fingerprint(email), "cv25519", "encr", "never"])
        case .nistp256:
            try await gpg(["--quick-gen-key", email, "nistp256", "sign", "never"])
            try await gpg(["--quick-add-key", try await fingerprint(email), "nistp256", "encr", "never"])
        case .dsaElgamal:
            try await gpg(["--quick-gen-key", email, "dsa2048", "sign", "never"])
            try await gpg(["--quick-add-key", try await fingerprint(email), "elg2048", "encr", "never"])
        case .signOnly:
            try await gpg(["--quick-gen-key", email, "ed25519", "sign", "never"])
        case .expired:
            // An encryption subkey that expires two seconds after it is made (the shared keys make it
            // first, so it has expired by the time the others are ready).
            try await gpg(["--quick-gen-key", email, "ed25519", "sign", "never"])
            try await gpg(["--quick-add-key", try await fingerprint(email), "cv25519", "encr", "seconds=2"])
            try await Task.sleep(for: .seconds(2.5))
        }
        let fingerprint = try await fingerprint(email)
        if kind == .revoked {
            // gpg stores a revocation certificate for every new key; a colon guards it against import by mistake.
            let certificate = try String(contentsOfFile: "\(path)/openpgp-revocs.d/\(fingerprint).rev", encoding: .utf8)
                .replacingOccurrences(of: ":-----BEGIN", with: "-----BEGIN")
            try await gpg(["--import"], input: Array(certificate.utf8))
        }
        let publicKey = String(decoding: try await gpg(["--armor", "--export", email]), as: UTF8.self)
        return Key(email: email, fingerprint: fingerprint, publicKey: publicKey)
    }

    public func fingerprint(_ email: String) async throws -> String {
        let listing = String(decoding: try await gpg(["--with-colons", "--fingerprint", email]), as: UTF8.self)
        return listing.split(separator: "\n").first { $0.hasPrefix("fpr:") }
            .map { String($0.split(separator: ":", omittingEmptySubsequences: false)[9]) } ?? ""
    }

    /// What gpg decrypts `message` to with the secret keys of this home.
    public func decrypt(_ message: [UInt8]) async throws -> [UInt8] {
        try await gpg(["--decrypt"], input: message)
    }

    /// The armoured secret key (for tests that import it elsewhere).
    public func secretKey(_ email: String) async throws -> String {
        String(decoding: try await gpg(["--armor", "--export-secret-keys", email]), as: UTF8.self)
    }

    deinit {
        _ = try? MailTestNode.runBlocking("gpgconf", ["--homedir", path, "--kill", "all"])
        try? FileManager.default.removeItem(atPath: path)
    }
}
