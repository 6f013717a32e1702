import Foundation
import Testing

@testable import PGKeep

/// pgkeep against sessions that hold locks: a migration's ACCESS EXCLUSIVE lock before a
/// backup, a `--row-counts` backup and a copy, and an open reader before `restore --clean`.
/// Each waits at most `--lock-wait-timeout`, exits non-zero naming the session that held the
/// lock, changes nothing, and the next run succeeds once the lock is gone. While it waits,
/// pgkeep holds no lock on the tables it already counted.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"), .serialized)
struct LockTests {
    /// Three tables: `big` is the one the migration locks.
    static let source: String = {
        let db = TestServer.uniqueName("locks")
        do {
            try TestServer.createDatabase(db)
            _ = try TestServer.psql(
                db,
                """
                CREATE TABLE a (id int PRIMARY KEY, t text);
                INSERT INTO a SELECT g, md5(g::text) FROM generate_series(1, 5000) g;
                CREATE TABLE big (id int PRIMARY KEY, t text);
                INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 20000) g;
                CREATE TABLE z (id int PRIMARY KEY);
                INSERT INTO z SELECT generate_series(1, 100);
                """)
        } catch {
            Issue.record("cannot create the source database: \(error)")
        }
        return db
    }()

    /// Runs `args` while a migration holds ACCESS EXCLUSIVE on `big`; checks the bound, the
    /// message and that nothing was left; returns the run.
    func againstHeldLock(
        _ args: [String], env: [String: String]? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> TestServer.Run {
        let (migration, holder) = try HostileWorld.hold(Self.source, "LOCK TABLE public.big IN ACCESS EXCLUSIVE MODE")
        let (run, seconds) = try HostileWorld.timed(args + ["--lock-wait-timeout", "2s"], env: env)
        #expect(run.status != 0, "\(run.stderr)", sourceLocation: sourceLocation)
        #expect(seconds < 15, "the bound is 2 s; it took \(seconds) s", sourceLocation: sourceLocation)
        #expect(run.stderr.contains("gave up waiting 2s for a lock"), "\(run.stderr)", sourceLocation: sourceLocation)
        #expect(
            run.stderr.contains("pid \(holder)") && run.stderr.contains("migration"), "\(run.stderr)",
            sourceLocation: sourceLocation)
        #expect(run.stderr.contains("LOCK TABLE public.big"), "\(run.stderr)", sourceLocation: sourceLocation)
        #expect(try HostileWorld.sessionsLeft(of: run.pid) == 0, sourceLocation: sourceLocation)
        _ = try migration.query("ROLLBACK")
        return run
    }

    @Test func backupGivesUpAndNamesTheHolder() throws {
        let dir = TestServer.tempDir("lockb")
        let run = try againstHeldLock(["backup", "--dir", dir, "-d", Self.source])
        #expect(run.status == 1)
        #expect(HostileWorld.backupFiles(dir).isEmpty, "\(TestServer.listing(dir))")
        let next = try TestServer.pgkeep(["backup", "--dir", dir, "-d", Self.source])
        #expect(next.status == 0, "\(next.stderr)")
    }

    /// The row-count session waits for a lock no longer than the bound either; the tables it
    /// counted stay locked (share) until pg_dump has its own, so a TRUNCATE cannot slip between
    /// the count and the dump (it would make the manifest's counts a lie).
    @Test func rowCountBackupGivesUpWithinTheBound() throws {
        let dir = TestServer.tempDir("lockrc")
        let run = try againstHeldLock(["backup", "--dir", dir, "-d", Self.source, "--row-counts"])
        #expect(run.status == 1)
        #expect(HostileWorld.backupFiles(dir).isEmpty)
        let next = try TestServer.pgkeep(["backup", "--dir", dir, "-d", Self.source, "--row-counts"])
        #expect(next.status == 0, "\(next.stderr)")
    }

    @Test func aTruncateDuringARowCountBackupCannotMakeItsCountsLie() throws {
        let db = TestServer.uniqueName("lock_truncate")
        try TestServer.createDatabase(db)
        defer { TestServer.dropDatabase(db) }
        _ = try TestServer.psql(
            db,
            "CREATE TABLE a_t AS SELECT generate_series(1, 1000) id; CREATE TABLE zz AS SELECT generate_series(1, 5) id"
        )
        let dir = TestServer.tempDir("lock-truncate")
        // zz is held for 2 s, so pgkeep has counted a_t and waits on zz when the TRUNCATE comes.
        let (holder, _) = try HostileWorld.hold(db, "LOCK TABLE public.zz IN ACCESS EXCLUSIVE MODE")
        let truncate = Locked<String?>(nil)
        let run = try TestServer.pgkeep(
            ["backup", "--dir", dir, "-d", db, "--row-counts", "--lock-wait-timeout", "30s"],
            whileRunning: { _ in
                Thread.sleep(forTimeInterval: 0.7)
                let other = try? HostileWorld.hold(db, "SET lock_timeout = '1s'").session
                do {
                    _ = try other?.query("TRUNCATE public.a_t")
                    _ = try other?.query("COMMIT")
                    truncate.withLock { $0 = "committed" }
                } catch {
                    truncate.withLock { $0 = "refused: \(error)" }
                }
                Thread.sleep(forTimeInterval: 1.3)
                _ = try? holder.query("ROLLBACK")
            })
        #expect(run.status == 0, "\(run.stderr)")
        #expect(truncate.current?.hasPrefix("refused") == true, "the TRUNCATE got through: \(truncate.current ?? "")")
        let (manifestPath, manifest) = try #require(try TestServer.manifests(dir).first)
        #expect(manifest.rowCounts?["public.a_t"] == 1000)
        let restored = TestServer.uniqueName("lock_truncate_r")
        defer { TestServer.dropDatabase(restored) }
        let r = try TestServer.pgkeep(["restore", manifestPath, "-d", restored, "--create", "--verify"])
        #expect(r.status == 0, "the backup holds what its manifest says: \(r.stderr)")
    }

    @Test func copyGivesUpAndDropsTheCopy() throws {
        let target = TestServer.uniqueName("lock_copy")
        _ = try againstHeldLock(
            ["copy", "--from", HostileWorld.uri(Self.source), "--to", HostileWorld.uri(target)],
            env: CopyTestSupport.env)
        #expect(try CopyTestSupport.leftovers("pgkeep_copy_", on16: false) == "0")
        let next = try TestServer.pgkeep(
            ["copy", "--from", HostileWorld.uri(Self.source), "--to", HostileWorld.uri(target)],
            env: CopyTestSupport.env)
        #expect(next.status == 0, "\(next.stderr)")
        TestServer.dropDatabase(target)
    }

    /// An open reader of one table: `restore --clean` cannot drop it. It gives up after the
    /// bound, names the reader, and the target is as it was (its single transaction rolled back,
    /// so the tables it had already dropped are back, and their readers were held up only for
    /// the bound).
    @Test func cleanRestoreBehindAReaderChangesNothing() throws {
        let path = try HostileWorld.backup(of: Self.source)
        let target = TestServer.uniqueName("lock_restore")
        try TestServer.createDatabase(target)
        defer { TestServer.dropDatabase(target) }
        let load = try TestServer.pgkeep(["restore", path, "-d", target])
        try #require(load.status == 0, "\(load.stderr)")
        _ = try TestServer.psql(target, "DELETE FROM z WHERE id > 50")
        let before = try TestServer.rowCounts(target)
        let (reader, holder) = try HostileWorld.hold(target, "SELECT count(*) FROM public.big")
        let (run, seconds) = try HostileWorld.timed([
            "restore", path, "-d", target, "--clean", "--yes", "--lock-wait-timeout", "2s",
        ])
        #expect(run.status == 1, "\(run.stderr)")
        #expect(seconds < 15)
        #expect(run.stderr.contains("gave up waiting 2s for a lock"), "\(run.stderr)")
        #expect(run.stderr.contains("pid \(holder)") && run.stderr.contains("nothing was changed"), "\(run.stderr)")
        _ = try reader.query("ROLLBACK")
        #expect(try TestServer.rowCounts(target) == before, "the target changed")
        let next = try TestServer.pgkeep(["restore", path, "-d", target, "--clean", "--yes"])
        #expect(next.status == 0, "\(next.stderr)")
        #expect(try TestServer.rowCounts(target)["public.z"] == 100)
    }
}
