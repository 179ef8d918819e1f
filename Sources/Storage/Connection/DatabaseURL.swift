import Foundation

/// Where and how to connect: parsed from `mariadb://user:pass@host:port/db` or
/// `mariadb://user:pass@localhost/db?socket=/run/mysqld/mysqld.sock`.
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public var user: String
    public var password: String?
    public var host: String
    public var port: UInt16
    public var database: String
    public var socketPath: String?

    public init(user: String, password: String?, host: String, port: UInt16 = 3306, database: String,
                socketPath: String? = nil) {
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.database = database
        self.socketPath = socketPath
    }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case invalid(String)
        public var description: String {
            switch self { case .invalid(let why): why }
        }
    }

    /// Parses a database URL. The password may hold any character percent-encoded.
    public init(parsing text: String) throws(ParseError) {
        guard let components = URLComponents(string: text) else {
            throw .invalid("not a URL (expected mariadb://user:password@host:port/database)")
        }
        guard let scheme = components.scheme?.lowercased(), scheme == "mariadb" || scheme == "mysql" else {
            throw .invalid("scheme must be mariadb:// (or mysql://)")
        }
        guard let user = components.percentEncodedUser.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
            throw .invalid("no user name (expected mariadb://user:password@host/database)")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw .invalid("no database name in the path (expected …/database)")
        }
        var socket: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "socket":
                guard let path = item.value, path.hasPrefix("/") else {
                    throw .invalid("socket must be an absolute path")
                }
                socket = path
            default:
                throw .invalid("unknown URL parameter '\(item.name)' (known: socket)")
            }
        }
        let host = components.host ?? ""
        guard !host.isEmpty || socket != nil else { throw .invalid("no host and no ?socket=") }
        var port: UInt16 = 3306
        if let p = components.port {
            guard let valid = UInt16(exactly: p), valid > 0 else { throw .invalid("port \(p) is out of range") }
            port = valid
        }
        self.init(
            user: user, password: components.percentEncodedPassword.flatMap { $0.removingPercentEncoding },
            host: host.isEmpty ? "localhost" : host, port: port, database: database, socketPath: socket)
    }

    public var description: String { redacted }
    public var debugDescription: String { redacted }

    /// The URL without its password, for logs and messages.
    public var redacted: String {
        let credentials = user + (password == nil ? "" : ":***")
        if let socketPath { return "mariadb://\(credentials)@localhost/\(database)?socket=\(socketPath)" }
        return "mariadb://\(credentials)@\(host):\(port)/\(database)"
    }
}
