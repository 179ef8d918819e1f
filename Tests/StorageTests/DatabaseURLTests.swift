import Storage
import Testing

@Suite struct DatabaseURLTests {
    @Test func tcpURL() throws {
        let url = try DatabaseURL(parsing: "mariadb://postern:secret@db.internal:3306/postern")
        #expect(url == DatabaseURL(user: "postern", password: "secret", host: "db.internal", port: 3306, database: "postern"))
        #expect(url.redacted == "mariadb://postern:***@db.internal:3306/postern")
        #expect("\(url)" == url.redacted)
    }

    @Test func socketURL() throws {
        let url = try DatabaseURL(parsing: "mariadb://postern@localhost/postern?socket=/run/mysqld/mysqld.sock")
        #expect(url.socketPath == "/run/mysqld/mysqld.sock")
        #expect(url.password == nil)
        #expect(url.port == 3306)
    }

    @Test func percentEncodedPassword() throws {
        let url = try DatabaseURL(parsing: "mysql://u:p%40ss%3Aw%2Frd%25@127.0.0.1:3307/db")
        #expect(url.password == "p@ss:w/rd%")
        #expect(url.port == 3307)
    }

    @Test(arguments: [
        "postgres://u@h/db", "mariadb://h/db", "mariadb://u@h/", "mariadb://u@h/db?sockt=/x",
        "mariadb://u@h/db?socket=relative", "not a url at all", "mariadb://u@h:0/db", "mariadb://u@/db",
    ])
    func rejects(text: String) {
        #expect(throws: DatabaseURL.ParseError.self) { try DatabaseURL(parsing: text) }
    }
}

@Suite struct SQLScriptTests {
    @Test func splitsAtSemicolonsOutsideQuotesAndComments() {
        let script = """
            -- a comment; with a semicolon
            CREATE TABLE a (x VARCHAR(10) DEFAULT 'a;b');
            /* block; comment */
            INSERT INTO a VALUES ('it''s; fine'), ("dq;"), (`bt;`);
            # hash comment;
            SELECT 'back\\\\slash;' ;
            -- trailing comment only
            """
        let statements = SQLScript.statements(in: script)
        #expect(statements.count == 3, "\(statements)")
        #expect(statements[0].hasSuffix("CREATE TABLE a (x VARCHAR(10) DEFAULT 'a;b')"))
        #expect(statements[1].hasSuffix("INSERT INTO a VALUES ('it''s; fine'), (\"dq;\"), (`bt;`)"))
        #expect(statements[2].hasSuffix("SELECT 'back\\\\slash;'"))
    }

    @Test func emptyAndCommentOnlyScriptsHaveNoStatements() {
        #expect(SQLScript.statements(in: "").isEmpty)
        #expect(SQLScript.statements(in: " ;\n-- nothing\n;/* x */").isEmpty)
    }
}

@Suite struct SQLScriptCommentTests {
    @Test func aStatementAfterAOneLineBlockCommentIsKept() {
        let statements = SQLScript.statements(in: "/* add index */ CREATE INDEX i ON t (x);\n/* only a comment */;\n/*!40101 SET x = 1 */;")
        #expect(statements == ["/* add index */ CREATE INDEX i ON t (x)", "/*!40101 SET x = 1 */"])
    }
}
