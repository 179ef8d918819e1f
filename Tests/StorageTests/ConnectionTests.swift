import Foundation
import Storage
import TestSupport
import Testing

@Suite struct ConnectionTests {
    func pool(_ maxConnections: Int = 4) async throws -> ConnectionPool {
        ConnectionPool(options: ConnectionOptions(url: try await TestDatabase.makeDatabase()), maxConnections: maxConnections)
    }

    @Test func preparedStatementsRoundTripEveryType() async throws {
        let pool = try await pool()
        try await pool.execute("""
            CREATE TABLE everything (
                id INT AUTO_INCREMENT PRIMARY KEY, i BIGINT NULL, u BIGINT UNSIGNED NULL, d DOUBLE NULL,
                t VARCHAR(255) NULL, long_text MEDIUMTEXT NULL, b VARBINARY(255) NULL, big_blob MEDIUMBLOB NULL,
                at DATETIME(6) NULL, flag TINYINT(1) NULL
            ) DEFAULT CHARSET=utf8mb4
            """)
        let binary: [UInt8] = [0, 1, 2, 0x7f, 0x80, 0xfe, 0xff, 0, 13, 10]
        let bigBlob = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let fourByteText = "mail 📬 to 𝄞 and 😀, e-mail ✉︎ ä"
        let longText = String(repeating: "Grüße 🌍 ", count: 20_000)
        let instant = Date(timeIntervalSince1970: 1_767_225_600.123456)  // 2026-01-01 00:00:00.123456 UTC
        let values: [SQLValue] = [
            .int(Int64.min), .uint(UInt64.max), .double(-1.5e300), .text(fourByteText), .text(longText),
            .blob(binary), .blob(bigBlob), .date(instant), true,
        ]
        let insert = "INSERT INTO everything (i, u, d, t, long_text, b, big_blob, at, flag) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        let inserted = try await pool.execute(insert, values)
        #expect(inserted.affectedRows == 1)
        #expect(inserted.lastInsertID == 1)
        try await pool.execute(
            insert,
            [.int(Int64.max), .uint(0), .double(0), .text(""), nil, .blob([]), nil, nil, false])
        try await pool.execute(
            insert,
            [nil, nil, nil, nil, nil, nil, nil, nil, nil])

        let rows = try await pool.query("SELECT i, u, d, t, long_text, b, big_blob, at, flag FROM everything ORDER BY id")
        #expect(rows.count == 3)
        #expect(rows[0].values == values.dropLast() + [.int(1)])
        #expect(try rows[0].date("at").timeIntervalSince1970 == 1_767_225_600.123456)
        #expect(rows[1].values == [.int(Int64.max), .uint(0), .double(0), .text(""), .null, .blob([]), .null, .null, .int(0)])
        #expect(rows[2].values.allSatisfy { $0.isNull })

        // A bound 4-byte character also matches in a WHERE clause (utf8mb4 end to end).
        let found = try await pool.query("SELECT id FROM everything WHERE t = ?", [.text(fourByteText)])
        #expect(try found.map { try $0.int("id") } == [1])
        let byBlob = try await pool.query("SELECT id FROM everything WHERE b = ?", [.blob(binary)])
        #expect(byBlob.count == 1)
        await pool.close()
    }

    @Test func duplicateKeySurfacesAsItsOwnError() async throws {
        let pool = try await pool()
        try await pool.execute("CREATE TABLE aliases (email VARCHAR(255) PRIMARY KEY)")
        try await pool.execute("INSERT INTO aliases (email) VALUES (?)", ["shop@relay.test"])
        await #expect {
            try await pool.execute("INSERT INTO aliases (email) VALUES (?)", ["shop@relay.test"])
        } throws: { error in
            guard case MariaDBError.duplicateKey(let message) = error else { return false }
            return message.contains("shop@relay.test")
        }
        // Other server errors are not mistaken for it.
        await #expect {
            try await pool.execute("INSERT INTO no_such_table (email) VALUES (?)", ["x"])
        } throws: { error in
            guard case MariaDBError.server(let code, let state, _) = error else { return false }
            return code == 1146 && state == "42S02"
        }
        // The connection stays usable after a statement error.
        #expect(try await pool.query("SELECT COUNT(*) AS n FROM aliases").first?.int("n") == 1)
        await pool.close()
    }

    @Test func killedServerConnectionIsReplacedByThePool() async throws {
        let pool = try await pool(1)
        let first = try #require(try await pool.query("SELECT CONNECTION_ID() AS id").first?.int("id"))
        let admin = try await TestDatabase.admin()
        _ = try await admin.execute("KILL ?", [.int(first)])

        // A read on the killed session is retried once on a new connection, transparently.
        let second = try #require(try await pool.query("SELECT CONNECTION_ID() AS id").first?.int("id"))
        #expect(second != first)
        #expect(pool.openConnections == 1)

        // A write on a killed session is not retried (it might have run): it fails with a typed error,
        // and the pool has a working connection again right after.
        _ = try await admin.execute("KILL ?", [.int(second)])
        await #expect {
            try await pool.execute("CREATE TABLE IF NOT EXISTS t (x INT)")
        } throws: { error in
            if case MariaDBError.connectionLost = error { return true }
            return false
        }
        let third = try #require(try await pool.query("SELECT CONNECTION_ID() AS id").first?.int("id"))
        #expect(third != second)
        #expect(pool.openConnections == 1)
        await admin.close()
        await pool.close()
    }

    @Test func idleConnectionIsCheckedBeforeAWrite() async throws {
        let url = try await TestDatabase.makeDatabase()
        let pool = ConnectionPool(options: ConnectionOptions(url: url), maxConnections: 1, idleCheckAfter: .zero)
        let first = try #require(try await pool.query("SELECT CONNECTION_ID() AS id").first?.int("id"))
        let admin = try await TestDatabase.admin()
        _ = try await admin.execute("KILL ?", [.int(first)])
        // The idle session is pinged before use, found dead and replaced: the write goes through.
        try await pool.execute("CREATE TABLE t (x INT)")
        try await pool.execute("INSERT INTO t VALUES (?)", [1])
        #expect(try await pool.query("SELECT x FROM t").count == 1)
        await admin.close()
        await pool.close()
    }

    @Test func transactionsCommitOrRollBack() async throws {
        let pool = try await pool()
        try await pool.execute("CREATE TABLE t (x INT PRIMARY KEY) ENGINE=InnoDB")
        try await pool.transaction { db in
            _ = try await db.execute("INSERT INTO t VALUES (?)", [1])
            _ = try await db.execute("INSERT INTO t VALUES (?)", [2])
        }
        await #expect(throws: MariaDBError.self) {
            try await pool.transaction { db in
                _ = try await db.execute("INSERT INTO t VALUES (?)", [3])
                _ = try await db.execute("INSERT INTO t VALUES (?)", [1])  // duplicate: all of it rolls back
            }
        }
        #expect(try await pool.query("SELECT x FROM t ORDER BY x").map { try $0.int("x") } == [1, 2])
        await pool.close()
    }

    @Test func poolNeverOpensMoreThanItsLimit() async throws {
        // A generous wait for a free connection: the full suite loads this 2-core machine heavily.
        let pool = ConnectionPool(options: ConnectionOptions(url: try await TestDatabase.makeDatabase()), maxConnections: 3,
                                  acquireTimeout: .seconds(60))
        let admin = try await TestDatabase.admin()
        let database = pool.options.url.database
        let seen = try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<30 {
                group.addTask { try #require(try await pool.query("SELECT CONNECTION_ID() AS id, SLEEP(0.02) AS s").first?.int("id")) }
            }
            return try await group.reduce(into: Set<Int64>()) { $0.insert($1) }
        }
        #expect(seen.count <= 3)
        #expect(pool.openConnections <= 3)
        let sessions = try await admin.execute(
            "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ?", [.text(database)])
        #expect(try sessions.rows.first?.int("n") ?? 99 <= 3)
        await admin.close()
        await pool.close()
    }

    @Test func parameterCountMustMatch() async throws {
        let pool = try await pool()
        await #expect(throws: MariaDBError.parameterCount(expected: 2, given: 1)) {
            try await pool.execute("SELECT ? AS a, ? AS b", [1])
        }
        #expect(try await pool.query("SELECT ? AS a", [7]).first?.int("a") == 7)
        await pool.close()
    }

    @Test func statementTimeoutIsTyped() async throws {
        let url = try await TestDatabase.makeDatabase()
        let pool = ConnectionPool(options: ConnectionOptions(url: url, statementTimeout: 1), maxConnections: 1)
        try await pool.execute("CREATE TABLE t (x INT)")
        try await pool.execute("INSERT INTO t VALUES (1),(2),(3),(4),(5),(6),(7),(8)")
        let started = ContinuousClock.now
        await #expect {
            // A cross join big enough to run well past one second.
            try await pool.execute(
                "SELECT COUNT(*) FROM t a, t b, t c, t d, t e, t f, t g, t h, t i, t j, t k WHERE a.x + k.x > ?", [0])
        } throws: { error in
            if case MariaDBError.timeout = error { return true }
            return false
        }
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(try await pool.query("SELECT 1 AS one").first?.int("one") == 1)
        await pool.close()
    }

    @Test func socketAndTCPURLsBothConnect() async throws {
        let socketURL = try await TestDatabase.makeDatabase()
        var urls = [socketURL]
        if let server = try await TestDatabase.shared().throwaway {
            var tcp = socketURL
            tcp.socketPath = nil
            tcp.host = "127.0.0.1"
            tcp.port = server.port
            urls.append(tcp)
        }
        for url in urls {
            // Parse the URL text a config would hold, so percent-encoding of the password is exercised.
            let parsed = try DatabaseURL(parsing: PosternProcess.databaseURLText(url))
            let connection = try await MariaDBConnection.connect(ConnectionOptions(url: parsed))
            let rows = try await connection.execute("SELECT DATABASE() AS db, @@time_zone AS tz, @@character_set_client AS cs").rows
            #expect(try rows.first?.string("db") == url.database)
            #expect(try rows.first?.string("tz") == "+00:00")
            #expect(try rows.first?.string("cs") == "utf8mb4")
            await connection.close()
        }
    }

    @Test func unreachableServerIsATypedError() async throws {
        let port = try FreePort.find()
        let url = DatabaseURL(user: "nobody", password: "x", host: "127.0.0.1", port: port, database: "nothing")
        await #expect {
            _ = try await MariaDBConnection.connect(ConnectionOptions(url: url, connectTimeout: 2))
        } throws: { error in
            if case MariaDBError.unreachable = error { return true }
            return false
        }
        var wrongPassword = try await TestDatabase.makeDatabase()
        wrongPassword.password = "wrong"
        await #expect {
            _ = try await MariaDBConnection.connect(ConnectionOptions(url: wrongPassword))
        } throws: { error in
            guard case MariaDBError.unreachable(let message) = error else { return false }
            return message.contains("Access denied")
        }
    }
}

@Suite struct ValueEdgeTests {
    @Test func decimalsAndSumsComeBackAsText() async throws {
        let pool = ConnectionPool(options: ConnectionOptions(url: try await TestDatabase.makeDatabase()))
        try await pool.execute("CREATE TABLE n (x INT, d DECIMAL(10,2))")
        try await pool.execute("INSERT INTO n VALUES (?, ?), (?, ?)", [2, .text("1.25"), 3, .text("2.50")])
        let row = try #require(try await pool.query("SELECT SUM(x) AS total, SUM(d) AS money FROM n").first)
        #expect(row["total"] == .text("5"))
        #expect(row["money"] == .text("3.75"))
        await pool.close()
    }

    @Test func datesOutsideDatetimeRangeAreAnErrorNotACrash() async throws {
        let pool = ConnectionPool(options: ConnectionOptions(url: try await TestDatabase.makeDatabase()))
        try await pool.execute("CREATE TABLE t (at DATETIME(6))")
        for date in [Date(timeIntervalSince1970: -1e12), Date(timeIntervalSince1970: 1e12), Date(timeIntervalSince1970: 3e11)] {
            await #expect(throws: MariaDBError.self) { try await pool.execute("INSERT INTO t VALUES (?)", [.date(date)]) }
        }
        #expect(try await pool.query("SELECT 1 AS one").count == 1)
        await pool.close()
    }

    @Test func localhostWithAPortUsesTCP() async throws {
        guard let server = try await TestDatabase.shared().throwaway else {
            // A given server's address is whatever POSTERN_TEST_DATABASE_URL says: nothing more to check.
            return
        }
        var url = try await TestDatabase.makeDatabase()
        url.socketPath = nil
        url.host = "localhost"
        url.port = server.port
        let connection = try await MariaDBConnection.connect(ConnectionOptions(url: url))
        let rows = try await connection.execute("SELECT @@port AS port").rows
        #expect(try rows.first?.int("port") == Int64(server.port))
        await connection.close()
    }
}
