import Foundation
import Testing

@testable import PGKeep

/// `pgkeep recover` against the real server: deletes, updates and inserts in a live table since
/// its backup; the deleted and changed rows come back (by --sql reviewed and run, or --apply),
/// the inserted ones stay, nothing else is touched, the scratch schema never stays, and a SIGKILL
/// during --apply leaves the table as it was.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"), .serialized)
struct RecoverTests {
    /// A live database, its backup, then changes: 1 in 50 rows deleted, 1 in 70 updated, 5 inserted.
    /// Returns the database, the backup, and the table's content hash as of the backup.
    static func scenario(rows: Int = 20000) throws -> (db: String, backup: String, before: String) {
        let db = TestServer.uniqueName("recover")
        try TestServer.createDatabase(db)
        _ = try TestServer.psql(
            db,
            """
            CREATE TABLE orders (id bigint PRIMARY KEY, who text, total numeric(12,2), meta jsonb, at timestamptz,
              tags text[], blob bytea, ratio float8, note text);
            INSERT INTO orders SELECT g, 'c' || g, g * 1.25, jsonb_build_object('g', g), timestamptz '2026-01-01 00:00+00'
              + g * interval '1 minute', ARRAY['t' || g % 3, NULL], decode(md5(g::text), 'hex'), g / 3.0,
              CASE WHEN g % 9 = 0 THEN NULL ELSE E'line\\nbreak\\ttab ''quote'' \\\\' || g END
              FROM generate_series(1, \(rows)) g;
            CREATE TABLE untouched (id int PRIMARY KEY, v text);
            INSERT INTO untouched SELECT g, 'u' || g FROM generate_series(1, 100) g;
            """)
        let dir = TestServer.tempDir("recover")
        let r = try TestServer.pgkeep(["backup", "--dir", dir, "-d", db])
        #expect(r.status == 0, "\(r.stderr)")
        let backup = dir + "/" + (try #require(TestServer.listing(dir).first { $0.hasSuffix(".dump.gz") }))
        let before = try hash(db)
        _ = try TestServer.psql(
            db,
            """
            DELETE FROM orders WHERE id % 50 = 0;
            UPDATE orders SET who = 'oops', note = NULL WHERE id % 70 = 1;
            INSERT INTO orders (id, who) SELECT \(rows) + g, 'new' FROM generate_series(1, 5) g;
            UPDATE untouched SET v = 'live' WHERE id = 1;
            """)
        return (db, backup, before)
    }

    /// The table as of the backup, whatever was added since: a hash of its rows up to the backup's ids.
    static func hash(_ db: String, upTo: Int = 20000) throws -> String {
        try TestServer.psql(
            db, "SELECT count(*) || ':' || sum(hashtextextended(o::text, 0)) FROM orders o WHERE id <= \(upTo)")
    }

    static func scratchSchemas(_ db: String) throws -> String {
        try TestServer.psql(db, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'pgkeep_recover%'")
    }

    @Test func reviewedSQLBringsBackTheDeletedAndChangedRowsAndLeavesTheInserts() throws {
        let (db, backup, before) = try Self.scenario()
        defer { TestServer.dropDatabase(db) }
        let sql = TestServer.tempDir("recoversql") + "/orders.sql"
        let r = try TestServer.pgkeep(["recover", backup, "-d", db, "--table", "orders", "--sql", sql, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(report?["deleted"] as? Int == 400 && report?["changed"] as? Int == 286, "\(r.stdout)")
        #expect(report?["added"] as? Int == 5 && report?["applied"] as? Bool == false, "\(r.stdout)")
        #expect(try Self.hash(db) != before, "nothing was changed yet")
        #expect(try Self.scratchSchemas(db) == "0")
        var st = stat()
        #expect(stat(sql, &st) == 0 && st.st_mode & 0o777 == 0o600)
        let run = try TestServer.run(
            TestServer.pgBin + "/psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-f", sql])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try Self.hash(db) == before)
        #expect(try TestServer.psql(db, "SELECT count(*) FROM orders WHERE who = 'new'") == "5")
        #expect(try TestServer.psql(db, "SELECT v FROM untouched WHERE id = 1") == "live")
    }

    @Test func applyDoesItInOneTransactionAndARerunFindsNothing() throws {
        let (db, backup, before) = try Self.scenario()
        defer { TestServer.dropDatabase(db) }
        let r = try TestServer.pgkeep(["recover", backup, "-d", db, "-t", "public.orders", "--apply"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("400 deleted rows brought back, 286 changed rows set back, 5 rows added"))
        #expect(try Self.hash(db) == before)
        #expect(try TestServer.psql(db, "SELECT count(*) FROM orders WHERE who = 'new'") == "5")
        #expect(try Self.scratchSchemas(db) == "0")
        let again = try TestServer.pgkeep(["recover", backup, "-d", db, "-t", "orders"])
        #expect(again.stderr.contains("0 rows deleted since the backup, 0 changed, 5 added"), "\(again.stderr)")
    }

    @Test func aSigkillDuringApplyLeavesTheTableAsItWas() throws {
        let (db, backup, _) = try Self.scenario(rows: 400_000)
        defer { TestServer.dropDatabase(db) }
        let changed = try Self.hash(db, upTo: 400_000)
        var sawApply = false
        let r = try TestServer.pgkeep(
            ["recover", backup, "-d", db, "-t", "orders", "--apply"],
            whileRunning: { pid in
                let deadline = Date().addingTimeInterval(60)
                while Date() < deadline, !sawApply {
                    sawApply =
                        (try? TestServer.psql(
                            "postgres",
                            "SELECT count(*) FROM pg_stat_activity WHERE \(TestServer.appName(pid)) "
                                + "AND query LIKE 'WITH done AS%'")) == "1"
                    if !sawApply { Thread.sleep(forTimeInterval: 0.01) }
                }
                kill(pid, SIGKILL)
            })
        #expect(sawApply, "the kill came during the apply")
        #expect(r.status == 137)
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try Self.hash(db, upTo: 400_000) == changed, "the live table is as it was")
        #expect(try Self.scratchSchemas(db) == "0")
    }

    @Test func aTableWithoutAKeyNeedsOneAndAScriptIsRefused() throws {
        let db = TestServer.uniqueName("recoverkey")
        try TestServer.createDatabase(db)
        defer { TestServer.dropDatabase(db) }
        _ = try TestServer.psql(
            db,
            "CREATE TABLE log (at int, msg text); INSERT INTO log SELECT g, 'm' || g FROM generate_series(1, 50) g; "
                + "INSERT INTO log VALUES (NULL, 'no time')")
        let dir = TestServer.tempDir("recoverkey")
        #expect(try TestServer.pgkeep(["backup", "--dir", dir, "-d", db]).status == 0)
        #expect(try TestServer.pgkeep(["backup", "--dir", dir, "-d", db, "--format", "plain"]).status == 0)
        let files = TestServer.listing(dir)
        let archive = dir + "/" + (try #require(files.first { $0.hasSuffix(".dump.gz") }))
        let script = dir + "/" + (try #require(files.first { $0.hasSuffix(".sql.gz") }))
        // Since the backup: rows deleted, and a NOT NULL column added (the scratch copy has no constraints).
        _ = try TestServer.psql(
            db, "DELETE FROM log WHERE at <= 10; ALTER TABLE log ADD extra text NOT NULL DEFAULT 'x'")
        let nokey = try TestServer.pgkeep(["recover", archive, "-d", db, "-t", "log"])
        #expect(nokey.status == 64 && nokey.stderr.contains("has no primary key: give --key"), "\(nokey.stderr)")
        let nullKey = try TestServer.pgkeep(["recover", archive, "-d", db, "-t", "log", "--key", "at", "--apply"])
        #expect(
            nullKey.status == 64 && nullKey.stderr.contains("1 of the backup's rows have no value"), "\(nullKey.stderr)"
        )
        let keyed = try TestServer.pgkeep(["recover", archive, "-d", db, "-t", "log", "--key", "msg", "--apply"])
        #expect(keyed.status == 0, "\(keyed.stderr)")
        #expect(try TestServer.psql(db, "SELECT count(*) FROM log") == "51")
        let refused = try TestServer.pgkeep(["recover", script, "-d", db, "-t", "log", "--key", "msg"])
        #expect(refused.status == 64 && refused.stderr.contains("needs an archive"), "\(refused.stderr)")
        let missing = try TestServer.pgkeep(["recover", archive, "-d", db, "-t", "nope", "--key", "msg"])
        #expect(missing.status == 64 && missing.stderr.contains("there is no table nope"), "\(missing.stderr)")
    }
}
