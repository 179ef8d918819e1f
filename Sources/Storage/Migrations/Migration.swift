import Crypto
import Foundation

/// One file of `migrations/`: `NNNN_name.sql`, applied once, in order of its number.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String
    /// SHA-256 of the file's bytes, hex. An applied migration whose file changed is refused.
    public let checksum: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
        self.checksum = SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    public enum LoadError: Error, CustomStringConvertible {
        case unreadable(String, String)
        case badName(String)
        case duplicateVersion(Int, String, String)
        case empty(String)

        public var description: String {
            switch self {
            case .unreadable(let path, let why): "cannot read migrations from \(path): \(why)"
            case .badName(let file): "migration file \(file) is not named NNNN_name.sql"
            case .duplicateVersion(let v, let a, let b): "migrations \(a) and \(b) both have version \(v)"
            case .empty(let path): "no migrations (*.sql) in \(path)"
            }
        }
    }

    /// Reads every `*.sql` file of a folder, sorted by version.
    public static func load(from directory: URL) throws -> [Migration] {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw LoadError.unreadable(directory.path, "\(error.localizedDescription)")
        }
        var migrations: [Migration] = []
        var seen: [Int: String] = [:]
        for file in files.sorted() where file.hasSuffix(".sql") {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"),
                let version = Int(stem[..<underscore]), version > 0,
                stem[..<underscore].allSatisfy(\.isASCII)
            else { throw LoadError.badName(file) }
            if let other = seen[version] { throw LoadError.duplicateVersion(version, other, file) }
            seen[version] = file
            let url = directory.appendingPathComponent(file)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw LoadError.unreadable(url.path, "unreadable file")
            }
            migrations.append(
                Migration(version: version, name: String(stem[stem.index(after: underscore)...]),
                          sql: String(decoding: data, as: UTF8.self)))
        }
        guard !migrations.isEmpty else { throw LoadError.empty(directory.path) }
        return migrations.sorted { $0.version < $1.version }
    }
}
