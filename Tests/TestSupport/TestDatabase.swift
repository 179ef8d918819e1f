import Foundation
import Storage

/// The database server the tests use: `POSTERN_TEST_DATABASE_URL` when set (its user must be allowed
/// to create databases and users), else one `ThrowawayMariaDB` started on first use for the whole run.
public enum TestDatabase {
    public struct Server: Sendable {
        /// A user that may create databases, kill sessions and read the process list.
        public let admin: DatabaseURL
        /// The user test databases are reached as.
        public let user: String
        public let password: String?
        /// Present when the tests started the server themselves.
        public let throwaway: ThrowawayMariaDB?
    }

    private static let server = Task<Server, any Error> {
        if let given = ProcessInfo.processInfo.environment["POSTERN_TEST_DATABASE_URL"], !given.isEmpty {
            let url = try DatabaseURL(parsing: given)
            return Server(admin: url, user: url.user, password: url.password, throwaway: nil)
        }
        let throwaway = try await ThrowawayMariaDB.start()
        try await createTestUser(on: throwaway)
        return Server(admin: throwaway.rootURL, user: testUser, password: testPassword, throwaway: throwaway)
    }

    public static func shared() async throws -> Server { try await server.value }

    /// The user name and password the tests' own database user has (made on each server once).
    public static let testUser = "postern_test"
    public static let testPassword = "p@ss:w/rd%"

    /// A new, empty database for one test, reachable as `testUser` over the server's socket.
    public static func makeDatabase() async throws -> DatabaseURL {
        let server = try await shared()
        let name = "pt_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        let admin = try await MariaDBConnection.connect(ConnectionOptions(url: server.admin))
        // Identifiers cannot be bound as parameters; `name` is made of [a-z0-9_] above.
        _ = try await admin.execute("CREATE DATABASE `" + name + "`")
        await admin.close()
        var url = server.admin
        url.database = String(name)
        url.user = server.user
        url.password = server.password
        return url
    }

    /// A pool on a new database with every migration of `migrations/` applied.
    public static func migratedPool() async throws -> ConnectionPool {
        let pool = ConnectionPool(options: ConnectionOptions(url: try await makeDatabase()))
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("migrations")
        _ = try await Migrator(pool: pool).run(try Migration.load(from: folder))
        return pool
    }

    /// Runs a statement as the administrator (for KILL, PROCESSLIST and the like).
    public static func admin() async throws -> MariaDBConnection {
        try await MariaDBConnection.connect(ConnectionOptions(url: try await shared().admin))
    }
}

extension TestDatabase {
    /// A user with a password full of URL metacharacters, so database URLs are really exercised.
    /// (Account names cannot be bound as parameters; these statements hold only constants.)
    fileprivate static func createTestUser(on server: ThrowawayMariaDB) async throws {
        let admin = try await MariaDBConnection.connect(ConnectionOptions(url: server.rootURL))
        for statement in [
            "CREATE USER 'postern_test'@'localhost' IDENTIFIED BY 'p@ss:w/rd%'",
            "CREATE USER 'postern_test'@'127.0.0.1' IDENTIFIED BY 'p@ss:w/rd%'",
            "GRANT ALL PRIVILEGES ON *.* TO 'postern_test'@'localhost' WITH GRANT OPTION",
            "GRANT ALL PRIVILEGES ON *.* TO 'postern_test'@'127.0.0.1' WITH GRANT OPTION",
        ] {
            _ = try await admin.execute(statement)
        }
        await admin.close()
    }
}
