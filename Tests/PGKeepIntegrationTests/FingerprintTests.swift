import Foundation
import Testing

@testable import PGKeep

/// Fingerprints against the real servers: taken in the backup's snapshot while the database is
/// written to, a restore checked row for row (whole, `--table`, `--clean`), a tampered backup whose
/// counts still match caught by `restore --verify` and by the drill, and a 15 backup verified after
/// a restore into 16.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"), .serialized)
struct FingerprintTests {
    /// Rows of several types (text, numeric, timestamps, jsonb, bytea, arrays, NULLs), a sequence.
    static let source: String = {
        let db = TestServer.uniqueName("fp")
        do {
            try TestServer.createDatabase(db)
            _ = try TestServer.psql(
                db,
                """
                CREATE TABLE people (id serial PRIMARY KEY, name text, born date, score numeric(8,3),
                  seen timestamptz, tags text[], meta jsonb, photo bytea, ratio double precision);
                INSERT INTO people (name, born, score, seen, tags, meta, photo, ratio)
                  SELECT 'person-' || g, date '1970-01-01' + g, g / 7.0, timestamptz '2026-01-01 00:00+00' + g * interval '1 minute',
                    ARRAY['a' || g, NULL], jsonb_build_object('g', g, 'odd', g % 2 = 1), decode(md5(g::text), 'hex'),
                    CASE WHEN g % 10 = 0 THEN NULL ELSE g / 3.0 END
                  FROM generate_series(1, 20000) g;
                CREATE TABLE audit (at bigint, what text);
                INSERT INTO audit SELECT g, md5(g::text) FROM generate_series(1, 5000) g;
                """)
        } catch {
            Issue.record("cannot create the source database: \(error)")
        }
        return db
    }()

    static func fingerprintBackup(_ dir: String) throws -> String {
        let r = try TestServer.pgkeep(["backup", "--dir", dir, "-d", source, "--fingerprint"])
        #expect(r.status == 0, "\(r.stderr)")
        return dir + "/" + (try #require(TestServer.listing(dir).first { $0.hasSuffix(".dump.gz") }))
    }

    @Test func aRestoreIsCheckedRowForRow() throws {
        let dir = TestServer.tempDir("fpok")
        let path = try Self.fingerprintBackup(dir)
        let manifest = try Manifest.load(path: path + ".manifest.json")
        let fingerprint = try #require(manifest.fingerprint)
        #expect(fingerprint.tables["public.people"]?.rows == 20000 && fingerprint.tables["public.audit"]?.rows == 5000)
        #expect(fingerprint.sequences["public.people_id_seq"] == .some("20000"))
        #expect(manifest.rowCounts?["public.people"] == 20000, "row counts come with the fingerprint")
        let target = TestServer.uniqueName("fpok_t")
        defer { TestServer.dropDatabase(target) }
        let whole = try TestServer.pgkeep(["restore", path, "-d", target, "--create", "--verify", "--json"])
        #expect(whole.status == 0, "\(whole.stderr)")
        #expect(whole.stdout.contains("\"differences\" : [\n\n    ]") || whole.stdout.contains("\"differences\" : []"))
        // --clean into a database that drifted: back to the backup, checked.
        _ = try TestServer.psql(
            target, "UPDATE people SET name = 'changed' WHERE id = 7; DELETE FROM audit WHERE at < 10")
        let clean = try TestServer.pgkeep(["restore", path, "-d", target, "--clean", "--yes", "--verify"])
        #expect(clean.status == 0, "\(clean.stderr)")
        // --table: only that table is compared.
        let one = TestServer.uniqueName("fpok_one")
        try TestServer.createDatabase(one)
        defer { TestServer.dropDatabase(one) }
        let table = try TestServer.pgkeep(["restore", path, "-d", one, "--table", "audit", "--verify"])
        #expect(table.status == 0, "\(table.stderr)")
        // The drill compares the same way and says so.
        let drill = try TestServer.pgkeep(["verify", path, "--restore-drill"])
        #expect(drill.status == 0, "\(drill.stderr)")
        #expect(drill.stderr.contains("contents match the fingerprint"), "\(drill.stderr)")
    }

    /// The data file altered (one value of `people` changed, lengths kept) and the manifest's
    /// sha256 and size recomputed to match: every count is right, only the contents are not.
    @Test func aTamperedBackupWithMatchingCountsIsCaught() throws {
        let dir = TestServer.tempDir("fpbad")
        let path = try Self.fingerprintBackup(dir)
        try TestServer.shell(
            """
            gunzip -c '\(path)' > '\(dir)/raw'
            python3 - '\(dir)/raw' <<'PY'
            import sys
            data = open(sys.argv[1], 'rb').read()
            i = data.index(b'person-1234\\t')
            data = data[:i] + b'person-1235' + data[i + 11:]
            open(sys.argv[1], 'wb').write(data)
            PY
            gzip -6 -c '\(dir)/raw' > '\(path)'
            python3 - '\(path)' <<'PY'
            import hashlib, json, os, sys
            path = sys.argv[1]
            m = json.load(open(path + '.manifest.json'))
            m['sha256'] = hashlib.sha256(open(path, 'rb').read()).hexdigest()
            m['size'] = os.path.getsize(path)
            json.dump(m, open(path + '.manifest.json', 'w'), indent=2, sort_keys=True)
            PY
            """)
        let target = TestServer.uniqueName("fpbad_t")
        defer { TestServer.dropDatabase(target) }
        let restore = try TestServer.pgkeep(["restore", path, "-d", target, "--create", "--verify"])
        #expect(restore.status == 1, "\(restore.stderr)")
        #expect(restore.stderr.contains("public.people: the same 20000 rows in number, but their contents differ"))
        let differences = restore.stderr.split(separator: "\n").filter { $0.contains("fingerprint") }
        #expect(differences.count == 1 && differences[0].contains("public.people"), "\(restore.stderr)")
        #expect(!restore.stderr.contains("row count of"), "the counts match: \(restore.stderr)")
        let drill = try TestServer.pgkeep(["verify", path, "--restore-drill"])
        #expect(drill.status == 1, "\(drill.stderr)")
        #expect(drill.stderr.contains("differs from the backup's fingerprint: public.people"), "\(drill.stderr)")
    }

    /// Written to while it is backed up: the fingerprint is the snapshot's, so the restore of the
    /// backup matches it exactly although the live database moved on.
    @Test func theFingerprintIsTheSnapshotsWhileTheDatabaseIsWritten() throws {
        let db = TestServer.uniqueName("fpbusy")
        try TestServer.createDatabase(db)
        defer { TestServer.dropDatabase(db) }
        _ = try TestServer.psql(
            db,
            "CREATE TABLE t (id bigserial PRIMARY KEY, v text); "
                + "INSERT INTO t (v) SELECT md5(g::text) FROM generate_series(1, 400000) g")
        let dir = TestServer.tempDir("fpbusy")
        let stop = Locked(false)
        let writer = Thread {
            var n = 0
            while !stop.current {
                n += 1
                // Inserts take values of the table's sequence while it is read: not a difference.
                _ = try? TestServer.psql(db, "INSERT INTO t (v) VALUES ('x'); UPDATE t SET v = 'w\(n)' WHERE id = \(n)")
            }
        }
        writer.start()
        let backup = try TestServer.pgkeep(["backup", "--dir", dir, "-d", db, "--fingerprint"])
        stop.withLock { $0 = true }
        Thread.sleep(forTimeInterval: 0.3)
        #expect(backup.status == 0, "\(backup.stderr)")
        let path = dir + "/" + (try #require(TestServer.listing(dir).first { $0.hasSuffix(".dump.gz") }))
        let live = try TestServer.psql(db, "SELECT count(*) FROM t")
        let recorded = try Manifest.load(path: path + ".manifest.json").fingerprint?.tables["public.t"]?.rows
        #expect(recorded != nil && "\(recorded!)" != live, "the live table moved on: \(live) vs \(recorded ?? -1)")
        let target = TestServer.uniqueName("fpbusy_t")
        defer { TestServer.dropDatabase(target) }
        let restore = try TestServer.pgkeep(["restore", path, "-d", target, "--create", "--verify"])
        #expect(restore.status == 0, "\(restore.stderr)")
    }

    /// Inheritance and partitions: the fingerprint is each table's own rows, the manifest's row
    /// counts are count(*)'s (a parent counts its children), and both check out after a restore.
    @Test func inheritanceAndPartitionsCheckOut() throws {
        let db = TestServer.uniqueName("fpinh")
        try TestServer.createDatabase(db)
        defer { TestServer.dropDatabase(db) }
        _ = try TestServer.psql(
            db,
            """
            CREATE TABLE parent (id int, v text); CREATE TABLE child (extra int) INHERITS (parent);
            INSERT INTO parent VALUES (1, 'p'); INSERT INTO child VALUES (2, 'c', 7), (3, 'c', 8);
            CREATE TABLE events (at date, n int) PARTITION BY RANGE (at);
            CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
            CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
            INSERT INTO events SELECT date '2025-06-01' + g, g FROM generate_series(1, 400) g;
            """)
        let dir = TestServer.tempDir("fpinh")
        #expect(try TestServer.pgkeep(["backup", "--dir", dir, "-d", db, "--fingerprint"]).status == 0)
        let path = dir + "/" + (try #require(TestServer.listing(dir).first { $0.hasSuffix(".dump.gz") }))
        let manifest = try Manifest.load(path: path + ".manifest.json")
        #expect(manifest.fingerprint?.tables["public.parent"]?.rows == 1)
        #expect(manifest.rowCounts?["public.parent"] == 3, "\(manifest.rowCounts ?? [:])")
        let drill = try TestServer.pgkeep(["verify", path, "--restore-drill"])
        #expect(drill.status == 0, "\(drill.stderr)")
        let target = TestServer.uniqueName("fpinh_t")
        defer { TestServer.dropDatabase(target) }
        let restore = try TestServer.pgkeep(["restore", path, "-d", target, "--create", "--verify"])
        #expect(restore.status == 0, "\(restore.stderr)")
    }

    @Test(.enabled(if: Server16.enabled, "needs the PostgreSQL 16 server"))
    func aBackupOf15VerifiesAfterARestoreInto16() throws {
        let dir = TestServer.tempDir("fp16")
        let path = try Self.fingerprintBackup(dir)
        let target = TestServer.uniqueName("fp16_t")
        defer { Server16.dropDatabase(target) }
        let r = try TestServer.pgkeep(
            ["restore", path, "-d", Server16.uri(target), "--create", "--verify"], env: CopyTestSupport.env)
        #expect(r.status == 0, "\(r.stderr)")
    }
}
