import Foundation
import Testing

@testable import PGKeep

/// pgkeep's sessions and children are immune to the role's and the database's settings: a role
/// with `statement_timeout = 1ms`, `lock_timeout = 1ms`, `idle_in_transaction_session_timeout =
/// 100ms` and `default_transaction_read_only = on`, on a database that sets the first and third
/// again, backs up, restores (`--create`, `--clean`, `--jobs`, `--verify`), copies, compares and
/// drills exactly as a plain role does. Before, `restore --create --verify` exited 3 and dropped
/// the database it had restored, and every copy died with "invalid snapshot identifier".
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"), .serialized)
struct RoleSettingsTests {
    static let role = TestServer.uniqueName("hostile_role")

    /// The source database and the role, made once.
    static let source: String = {
        let db = TestServer.uniqueName("hostile_src")
        do {
            try TestServer.createDatabase(db)
            _ = try TestServer.psql(
                db,
                """
                CREATE TABLE a (id int PRIMARY KEY, t text);
                INSERT INTO a SELECT g, md5(g::text) FROM generate_series(1, 50000) g;
                CREATE TABLE b (id int PRIMARY KEY REFERENCES a, n numeric);
                INSERT INTO b SELECT g, g / 7.0 FROM generate_series(1, 20000) g;
                CREATE INDEX b_n ON b (n);
                CREATE SEQUENCE s START 42;
                """)
            _ = try TestServer.psql(
                "postgres",
                """
                CREATE ROLE \(role) LOGIN SUPERUSER PASSWORD '\(TestServer.password)';
                ALTER ROLE \(role) SET statement_timeout = '1ms';
                ALTER ROLE \(role) SET lock_timeout = '1ms';
                ALTER ROLE \(role) SET idle_in_transaction_session_timeout = '100ms';
                ALTER ROLE \(role) SET default_transaction_read_only = on;
                ALTER DATABASE \(db) SET statement_timeout = '1ms';
                ALTER DATABASE \(db) SET idle_in_transaction_session_timeout = '100ms';
                """)
        } catch {
            Issue.record("cannot create the source database or the role: \(error)")
        }
        return db
    }()

    static func uri(_ db: String) -> String { "postgresql://\(role)@127.0.0.1:\(TestServer.port)/\(db)" }

    /// The settings really bite a session that does not set its own: the test is not vacuous.
    @Test func theSettingsBiteAPlainSession() throws {
        var env = TestServer.connectionEnv
        env["PGUSER"] = Self.role
        let r = try TestServer.run(
            TestServer.pgBin + "/psql", ["-X", "-At", "-d", Self.source, "-c", "SELECT count(*) FROM a, b"], env: env)
        #expect(r.status != 0 && r.stderr.contains("timeout"), "status \(r.status): \(r.stderr)")
    }

    @Test func backupRestoreCopyCompareAndDrillAllSucceed() throws {
        let dir = TestServer.tempDir("hostile-role")
        let expected = try TestServer.rowCounts(Self.source)
        let backup = try TestServer.pgkeep(["backup", "--dir", dir, "-d", Self.uri(Self.source), "--row-counts"])
        try #require(backup.status == 0, "backup: \(backup.stderr)")
        let path = try TestServer.manifests(dir)[0].path

        let created = TestServer.uniqueName("hostile_created")
        defer { TestServer.dropDatabase(created) }
        let create = try TestServer.pgkeep(["restore", path, "-d", Self.uri(created), "--create", "--verify"])
        #expect(create.status == 0, "restore --create --verify: \(create.stderr)")
        #expect(try TestServer.rowCounts(created) == expected)

        let clean = try TestServer.pgkeep(["restore", path, "-d", Self.uri(created), "--clean", "--yes", "--verify"])
        #expect(clean.status == 0, "restore --clean --verify: \(clean.stderr)")
        #expect(try TestServer.rowCounts(created) == expected)

        let parallel = TestServer.uniqueName("hostile_jobs")
        defer { TestServer.dropDatabase(parallel) }
        let jobs = try TestServer.pgkeep(["restore", path, "-d", Self.uri(parallel), "--create", "--jobs", "2"])
        #expect(jobs.status == 0, "restore --jobs 2: \(jobs.stderr)")
        #expect(try TestServer.rowCounts(parallel) == expected)

        let copied = TestServer.uniqueName("hostile_copy")
        defer { TestServer.dropDatabase(copied) }
        let copy = try TestServer.pgkeep(
            ["copy", "--from", Self.uri(Self.source), "--to", Self.uri(copied)], env: CopyTestSupport.env)
        #expect(copy.status == 0, "copy: \(copy.stderr)")
        #expect(try TestServer.rowCounts(copied) == expected)

        let compare = try TestServer.pgkeep(["compare", Self.uri(Self.source), Self.uri(copied)])
        #expect(compare.status == 0, "compare: \(compare.stderr)")

        let drill = try TestServer.pgkeep(["verify", path, "--restore-drill", "-d", Self.uri("postgres")])
        #expect(drill.status == 0, "drill: \(drill.stderr)")
        #expect(try CopyTestSupport.leftovers("pgkeep_drill_", on16: false) == "0")
    }
}
