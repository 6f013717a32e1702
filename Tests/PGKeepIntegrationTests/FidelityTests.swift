import Foundation
import Testing

@testable import PGKeep

/// Nothing of the database lost on the way: what `restore --table` and `restore --create` keep.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"))
struct FidelityTests {
    /// A database with commented indexes and constraints, settings, a comment, revoked CONNECT
    /// and a collation other than the server's default.
    static func makeSource() throws -> String {
        let db = TestServer.uniqueName("fidelity")
        _ = try TestServer.psql("postgres", "CREATE DATABASE \(db) TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'")
        _ = try TestServer.psql(
            "postgres",
            """
            ALTER DATABASE \(db) SET work_mem = '7MB';
            ALTER DATABASE \(db) SET search_path = app, public;
            COMMENT ON DATABASE \(db) IS 'what the application relies on';
            REVOKE CONNECT ON DATABASE \(db) FROM PUBLIC;
            """)
        _ = try TestServer.psql(
            db,
            """
            CREATE TABLE a (id int PRIMARY KEY, b int UNIQUE, c int CHECK (c > 0));
            CREATE INDEX a_c ON a (c);
            COMMENT ON INDEX a_c IS 'index comment';
            COMMENT ON CONSTRAINT a_b_key ON a IS 'unique comment';
            COMMENT ON CONSTRAINT a_c_check ON a IS 'check comment';
            COMMENT ON TABLE a IS 'table comment';
            CREATE TABLE b (x int REFERENCES a (id));
            COMMENT ON CONSTRAINT b_x_fkey ON b IS 'fk comment';
            INSERT INTO a VALUES (1, 1, 1); INSERT INTO b VALUES (1);
            """)
        return db
    }

    /// The database-level properties and every comment, as text to compare.
    static func properties(_ db: String) throws -> String {
        let settings = try TestServer.psql(
            "postgres",
            """
            SELECT d.datcollate || ' ' || d.datctype || ' ' || pg_encoding_to_char(d.encoding) || ' '
                || coalesce(shobj_description(d.oid, 'pg_database'), '') || ' '
                || coalesce(array_to_string(ARRAY(SELECT a::text FROM unnest(d.datacl) a ORDER BY 1), ','), '') || ' '
                || coalesce((SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting s
                             WHERE s.setdatabase = d.oid AND s.setrole = 0), '')
            FROM pg_database d WHERE d.datname = '\(db)'
            """)
        let comments = try TestServer.psql(
            db,
            """
            SELECT string_agg(c.relname || '=' || obj_description(c.oid, 'pg_class'), ',' ORDER BY 1)
                FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND obj_description(c.oid, 'pg_class') IS NOT NULL
            UNION ALL
            SELECT string_agg(conname || '=' || obj_description(oid, 'pg_constraint'), ',' ORDER BY 1)
                FROM pg_constraint WHERE connamespace = 'public'::regnamespace
            """)
        return settings.replacingOccurrences(of: db, with: "DB") + "\n" + comments
    }

    @Test(arguments: ["custom", "directory"])
    func createKeepsWhatPgRestoreCreateKeepsUnderAnotherName(format: String) throws {
        let source = try Self.makeSource()
        defer { TestServer.dropDatabase(source) }
        let dir = TestServer.tempDir("fidelity")
        #expect(try TestServer.pgkeep(["backup", "-d", source, "--dir", dir, "--format", format]).status == 0)
        let file = try #require(KillPointTests.backups(dir).first).path
        let target = TestServer.uniqueName("fidelitycopy")
        defer { TestServer.dropDatabase(target) }
        let run = try TestServer.pgkeep(["restore", file, "-d", target, "--create"])
        #expect(run.status == 0, "\(run.stderr)")
        let expected = try Self.properties(source)
        #expect(try Self.properties(target) == expected)
        #expect(expected.contains("work_mem=7MB") && expected.contains("what the application relies on"))
        #expect(!expected.contains("=c/"), "CONNECT stays revoked from PUBLIC: \(expected)")
    }

    @Test func tablesComeWithTheCommentsOnTheirIndexesAndConstraints() throws {
        let source = try Self.makeSource()
        defer { TestServer.dropDatabase(source) }
        let dir = TestServer.tempDir("fidelity")
        #expect(try TestServer.pgkeep(["backup", "-d", source, "--dir", dir]).status == 0)
        let file = try #require(KillPointTests.backups(dir).first).path
        let target = TestServer.uniqueName("fidelitytables")
        defer { TestServer.dropDatabase(target) }
        try TestServer.createDatabase(target)
        let run = try TestServer.pgkeep(["restore", file, "-d", target, "--table", "a", "--table", "b"])
        #expect(run.status == 0, "\(run.stderr)")
        let comments = try Self.properties(target).split(separator: "\n").dropFirst().joined(separator: "\n")
        let expected = try Self.properties(source).split(separator: "\n").dropFirst().joined(separator: "\n")
        #expect(comments == expected)
        #expect(comments.contains("a_c=index comment") && comments.contains("b_x_fkey=fk comment"), "\(comments)")
    }
}
