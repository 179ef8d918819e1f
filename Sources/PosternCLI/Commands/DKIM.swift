import ArgumentParser
import Foundation
import MailCore
import PosternConfig
import Relay

/// `postern dkim generate DOMAIN [--selector S] [--algorithm rsa|ed25519]`: a signing key in
/// `dkim.keys_dir/DOMAIN/SELECTOR.pem` (mode 0600), and the DNS TXT record to publish.
struct DKIMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dkim", abstract: "DKIM signing keys.", subcommands: [Generate.self])

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a signing key for a domain and print the DNS TXT record to publish.")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The domain mail is signed for (d=).") var domain: String
        @Option(help: "The selector (s=); default: dkim.selector.") var selector: String?
        @Option(help: "rsa (2048 bits, rsa-sha256) or ed25519 (ed25519-sha256).") var algorithm: String = "rsa"
        @Flag(help: "Replace a key that exists.") var force = false

        func run() async throws {
            try await reportingFailures {
                let config = try global.loadConfig()
                guard let algorithm = DKIMKey.Algorithm(rawValue: algorithm.lowercased()) else {
                    throw CLIFailure("--algorithm '\(algorithm)': use rsa or ed25519")
                }
                let domain = domain.lowercased()
                guard DKIMKeyFiles.isPlainName(domain) else { throw CLIFailure("'\(domain)' is not a domain name") }
                let selector = (selector ?? config.dkim.selector).lowercased()
                guard DKIMKeyFiles.isPlainName(selector) else { throw CLIFailure("'\(selector)' is not a selector") }
                let path = DKIMKeyFiles.path(keysDirectory: config.dkim.keysDirectory, domain: domain, selector: selector)
                if FileManager.default.fileExists(atPath: path) && !force {
                    throw CLIFailure("\(path) exists: use --force to replace it")
                }
                let key = try DKIMKey.generate(algorithm)
                try DKIMKeyFiles.write(key, to: path)
                print("wrote \(path) (\(algorithm.tag))")
                print("publish this TXT record:")
                let record = key.dnsRecord
                // TXT strings hold at most 255 octets each: a long record is split into several.
                var strings: [String] = []
                var rest = Substring(record)
                while !rest.isEmpty {
                    strings.append("\"\(rest.prefix(250))\"")
                    rest = rest.dropFirst(250)
                }
                print("\(selector)._domainkey.\(domain). IN TXT ( \(strings.joined(separator: " ")) )")
            }
        }
    }
}

/// Where signing keys live: `KEYS_DIR/DOMAIN/SELECTOR.pem`.
enum DKIMKeyFiles {
    static func path(keysDirectory: String, domain: String, selector: String) -> String {
        DKIMKeyring.path(keysDirectory: keysDirectory, domain: domain, selector: selector)
    }

    /// Letters, digits, hyphens and dots only: nothing that could leave the keys directory.
    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 253 && !name.hasPrefix(".") && !name.contains("..")
            && name.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "-" || $0 == "." }
    }

    static func write(_ key: DKIMKey, to path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw CLIFailure("cannot create \(folder): \(error.localizedDescription)")
        }
        let temporary = path + ".new"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(key.pemRepresentation.utf8),
                                             attributes: [.posixPermissions: 0o600]),
              rename(temporary, path) == 0
        else { throw CLIFailure("cannot write \(path)") }
    }
}
