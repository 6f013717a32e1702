import Foundation
import Testing

@testable import PGKeep

extension Tag {
    /// The kill-point campaign: `swift test --filter` by suite, or `Scripts/killpoints.sh`.
    @Tag static var killPoints: Self
}

/// A restore is all or nothing, whatever happens to pgkeep: killed with SIGKILL while psql is in
/// the middle of a COPY, the target is left exactly as it was (schema and per-table row counts).
/// Before pgkeep wrote BEGIN and COMMIT itself, psql --single-transaction committed the part it
/// had received when its input ended with pgkeep's death.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"), .tags(.killPoints))
struct AtomicRestoreTests {
    /// Two tables of 300,000 rows each, so that a restore takes a few seconds.
    static let source: String = {
        let db = TestServer.uniqueName("twotables")
        do {
            try TestServer.createDatabase(db)
            _ = try TestServer.psql(
                db,
                """
                CREATE TABLE a (id int PRIMARY KEY, t text);
                INSERT INTO a SELECT g, md5(g::text) || md5((g + 1)::text) FROM generate_series(1, 300000) g;
                CREATE TABLE b AS SELECT * FROM a;
                CREATE INDEX b_t ON b (t);
                SELECT lo_from_bytea(0, 'a large object: the archiver wraps it in BEGIN/COMMIT');
                """)
        } catch {
            Issue.record("cannot create the source database: \(error)")
        }
        return db
    }()

    /// What must not change: the schema and every table's row count.
    static func fingerprint(_ db: String) throws -> String {
        let counts = try TestServer.rowCounts(db).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let objects = try TestServer.psql(db, "SELECT count(*) FROM pg_largeobject_metadata")
        return try TestServer.schema(db) + "\n" + counts.joined(separator: ",") + "\nlarge objects: " + objects
    }

    /// Rows of a COPY in progress into `db`.
    static func copyInProgress(_ db: String) -> Bool {
        let sql = """
            SELECT coalesce(max(p.tuples_processed), 0) FROM pg_stat_progress_copy p
            JOIN pg_database d ON d.oid = p.datid WHERE d.datname = '\(db)'
            """
        return (Int((try? TestServer.psql("postgres", sql)) ?? "0") ?? 0) > 1000
    }

    static let cases: [(format: String, args: [String])] = [
        ("plain", []),
        ("custom", []),
        ("custom", ["--clean", "--yes"]),
        ("custom", ["--table", "a", "--table", "b"]),
    ]

    @Test(arguments: cases)
    func sigkillInTheMiddleOfACopyLeavesTheTargetAsItWas(format: String, args: [String]) throws {
        let dir = TestServer.tempDir("atomic")
        let backup = try TestServer.pgkeep(["backup", "-d", Self.source, "--dir", dir, "--format", format])
        try #require(backup.status == 0, "\(backup.stderr)")
        let file = try #require(TestServer.manifests(dir).first).path
        let target = TestServer.uniqueName("target")
        defer { TestServer.dropDatabase(target) }
        try TestServer.createDatabase(target)
        if args.contains("--clean") {
            // The target holds an older copy of the tables: it must survive whole.
            #expect(try TestServer.pgkeep(["restore", file, "-d", target]).status == 0)
            _ = try TestServer.psql(target, "DELETE FROM a WHERE id % 3 = 0; DELETE FROM b WHERE id % 5 = 0")
        } else {
            // Not empty (a whole restore refuses a target that has tables of its own).
            _ = try TestServer.psql(target, "CREATE VIEW keep AS SELECT 1 AS x; CREATE SEQUENCE keep_seq")
        }
        let before = try Self.fingerprint(target)
        var killedPid: Int32 = 0
        var sawCopy = false
        let run = try TestServer.pgkeep(["restore", file, "-d", target] + args) { pid in
            killedPid = pid
            sawCopy = OperationsTests.waitFor(60) { Self.copyInProgress(target) }
            kill(pid, SIGKILL)
        }
        #expect(sawCopy, "the restore reached a COPY: \(run.stderr)")
        #expect(run.status != 0, "killed")
        // The children see the end of their input and go; the server rolls the transaction back.
        let gone = OperationsTests.waitFor(10) {
            OperationsTests.backends(of: killedPid).isEmpty && !FaultTests.processRunning(argvContains: file)
        }
        #expect(gone, "no pgkeep child and no pgkeep-\(killedPid) backend after 10 s")
        #expect(try Self.fingerprint(target) == before, "\(format) \(args): the target is as it was")
        // And the same restore, left alone, completes.
        let again = try TestServer.pgkeep(["restore", file, "-d", target] + args)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try TestServer.rowCounts(target)["public.a"] == 300_000)
    }

    /// The same at seeded instants of the whole restore (checking, creating, copying, indexing,
    /// committing): afterwards the target is as it was or completely restored, nothing between.
    @Test(arguments: cases)
    func sigkillAtSeededInstantsLeavesAllOrNothing(format: String, args: [String]) throws {
        let dir = TestServer.tempDir("atomic2")
        #expect(try TestServer.pgkeep(["backup", "-d", Self.source, "--dir", dir, "--format", format]).status == 0)
        let file = try #require(TestServer.manifests(dir).first).path
        let target = TestServer.uniqueName("target")
        defer { TestServer.dropDatabase(target) }
        try TestServer.createDatabase(target)
        let prepare = {
            if args.contains("--clean") {
                _ = try TestServer.pgkeep(["restore", file, "-d", target])
                _ = try TestServer.psql(target, "DELETE FROM a WHERE id % 3 = 0")
            }
        }
        try prepare()
        let before = try Self.fingerprint(target)
        let started = Date()
        #expect(try TestServer.pgkeep(["restore", file, "-d", target] + args).status == 0)
        let full = Date().timeIntervalSince(started)
        let restored = try Self.fingerprint(target)
        for fraction in KillPointTests.fractions("restore \(format) \(args)") {
            TestServer.dropDatabase(target)
            try TestServer.createDatabase(target)
            try prepare()
            let pid = try KillPointTests.killAfter(full * fraction, ["restore", file, "-d", target] + args)
            _ = OperationsTests.waitFor(10) { OperationsTests.backends(of: pid).isEmpty }
            let now = try Self.fingerprint(target)
            let whole = now == before || now == restored
            #expect(whole, "\(format) \(args) killed at \(Int(fraction * 100))%: neither as before nor restored")
            KillPointTests.record(
                "restore \(format) \(args.joined(separator: " "))", "t=\(Int(fraction * 100))%", lost: !whole)
        }
    }
}
