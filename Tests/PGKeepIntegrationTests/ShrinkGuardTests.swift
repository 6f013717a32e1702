import Foundation
import Testing

@testable import PGKeep

/// The guard against shrinking backups, against the real server: a database emptied and then
/// backed up daily keeps its last full backup through retention and fails status; an intended
/// shrink (`--accept-shrink`, `pgkeep accept`) is not flagged; a growing database never is.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"))
struct ShrinkGuardTests {
    /// Backups in time order, then by sequence: several may share a second.
    static func order(_ m: Manifest) -> (String, Int) {
        (m.startedAt, BackupName.parse(fileName: m.file)?.sequence ?? 0)
    }

    /// Moves the newest backup of `db` in `dir` back to `daysAgo` days before now (data file,
    /// manifest and the times in it), as if it had been taken then.
    static func backdate(_ dir: String, _ db: String, daysAgo: Int, sourceLocation: SourceLocation = #_sourceLocation)
        throws
    {
        let folder = dir + "/" + db
        let newest = try #require(
            try TestServer.manifests(folder).max { Self.order($0.manifest) < Self.order($1.manifest) },
            sourceLocation: sourceLocation)
        var manifest = newest.manifest
        let old = try #require(BackupName.parse(fileName: manifest.file), sourceLocation: sourceLocation)
        let time = Date().addingTimeInterval(-Double(daysAgo) * 86400)
        let name = BackupName(
            database: old.database, time: time, format: old.format, codec: old.codec,
            encrypted: old.encrypted)
        try FileManager.default.moveItem(atPath: folder + "/" + manifest.file, toPath: folder + "/" + name.fileName)
        try FileManager.default.removeItem(atPath: newest.path)
        manifest.file = name.fileName
        manifest.startedAt = BackupName.isoString(time)
        manifest.finishedAt = BackupName.isoString(time)
        try FileSystem.writePrivateFile(folder + "/" + name.manifestName, data: try manifest.encoded())
    }

    func backup(_ db: String, _ dir: String, _ extra: [String] = []) throws -> TestServer.Run {
        try TestServer.pgkeep(
            [
                "backup", "-d", db, "--dir", dir, "--row-counts", "--keep-daily", "7", "--keep-weekly", "0",
                "--keep-monthly", "0", "--prune",
            ] + extra)
    }

    @Test func anEmptiedDatabaseKeepsItsLastFullBackupAndFailsStatus() throws {
        let db = TestServer.uniqueName("shrink")
        let dir = TestServer.tempDir("shrink")
        defer { TestServer.dropDatabase(db) }
        try TestServer.createDatabase(db)
        _ = try TestServer.psql(
            db,
            """
            CREATE TABLE orders (id int PRIMARY KEY, note text);
            INSERT INTO orders SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 60000) g;
            CREATE TABLE customers (id int PRIMARY KEY, name text);
            INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 5000) g;
            """)
        // Three normal days, the last of them the last full backup.
        for day in [12, 11, 10] {
            let r = try backup(db, dir)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(!r.stderr.contains("ANOMALY"), "a steady database is never flagged: \(r.stderr)")
            try Self.backdate(dir, db, daysAgo: day)
        }
        let lastFull = try #require(
            try TestServer.manifests(dir + "/" + db).max { Self.order($0.manifest) < Self.order($1.manifest) }
        ).manifest.file
        _ = try TestServer.psql(db, "TRUNCATE orders")
        let http = try Recorder()
        for day in stride(from: 8, through: 1, by: -1) {
            let watch = day == 8 ? ["--webhook", http.url("/ok/wh"), "--healthchecks", http.url("/ok/hc")] : []
            let r = try backup(db, dir, watch)
            #expect(r.status == 0, "the shrunken backup is still a backup: \(r.stderr)")
            #expect(r.stderr.contains("ANOMALY: \(db)"), "\(r.stderr)")
            #expect(r.stderr.contains("table public.orders lost 100 % of its rows (60000 → 0)"), "\(r.stderr)")
            try Self.backdate(dir, db, daysAgo: day)
        }
        // The monitoring targets heard of it: an anomaly event, and healthchecks' /fail with the reason.
        let events = MonitorTests.events(http.requests(under: "/ok/wh")).map { $0["event"] as? String }
        #expect(events == ["start", "anomaly"], "\(events)")
        #expect(http.requests(under: "/ok/hc").last?.path == "/ok/hc/fail")
        #expect(http.requests(under: "/ok/hc").last?.body.contains("lost 100 %") == true)
        let today = try backup(db, dir)
        #expect(today.stderr.contains("ANOMALY"), "a week of empty dumps never becomes the new normal")
        let files = try TestServer.manifests(dir + "/" + db).map(\.manifest.file)
        #expect(files.contains(lastFull), "the last full backup survived 9 pruning runs")
        let list = try TestServer.pgkeep(
            ["list", "--dir", dir, "--json", "--keep-daily", "7", "--keep-weekly", "0", "--keep-monthly", "0"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])
        let rows = try #require(json["backups"] as? [[String: Any]])
        let kept = try #require(rows.first { ($0["path"] as? String)?.hasSuffix(lastFull) == true })
        #expect(kept["reasons"] as? [String] == ["last normal before anomaly"], "\(kept)")
        #expect(rows.filter { !(($0["anomalies"] as? [String]) ?? []).isEmpty }.count == 7, "7 daily")
        let status = try TestServer.pgkeep(["status", "--dir", dir, "--max-age", "1d"])
        #expect(status.status == 1, "\(status.stderr)")
        #expect(status.stderr.contains("ANOMALY"), "\(status.stderr)")
        // Accepting the newest shrink makes status pass, and the full backup is no longer held.
        let newest = try #require(rows.first)["path"] as! String
        let accept = try TestServer.pgkeep(["accept", newest])
        #expect(accept.status == 0, "\(accept.stderr)")
        #expect(try TestServer.pgkeep(["status", "--dir", dir, "--max-age", "1d"]).status == 0)
        let dry = try TestServer.pgkeep(
            [
                "prune", "--dir", dir, "--keep-daily", "7", "--keep-weekly", "0", "--keep-monthly", "0", "--dry-run",
                "--json",
            ])
        #expect(!dry.stdout.contains("last normal before anomaly"), "\(dry.stdout)")
    }

    @Test func anIntendedShrinkAndAGrowingDatabaseAreNotFlagged() throws {
        let db = TestServer.uniqueName("grow")
        let dir = TestServer.tempDir("grow")
        defer { TestServer.dropDatabase(db) }
        try TestServer.createDatabase(db)
        _ = try TestServer.psql(db, "CREATE TABLE t (id int, note text)")
        for n in [1000, 5000, 20000, 80000] {
            _ = try TestServer.psql(db, "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, \(n)) g")
            let r = try backup(db, dir)
            #expect(r.status == 0 && !r.stderr.contains("ANOMALY"), "growth is never an anomaly: \(r.stderr)")
        }
        _ = try TestServer.psql(db, "DELETE FROM t WHERE id > 100")
        let r = try backup(db, dir, ["--accept-shrink"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stderr.contains("ANOMALY") && r.stderr.contains("shrink accepted"), "\(r.stderr)")
        let newest = try #require(
            try TestServer.manifests(dir + "/" + db).max { Self.order($0.manifest) < Self.order($1.manifest) }
        ).manifest
        #expect(newest.shrinkAccepted == true && newest.anomalies?.isEmpty == false)
        #expect(try TestServer.pgkeep(["status", "--dir", dir, "--max-age", "1d"]).status == 0)
        // The accepted backup is the new normal, also after retention deleted it (the larger,
        // older backup it replaced is still kept as the oldest daily one).
        for _ in 0..<3 {
            let next = try backup(db, dir)
            #expect(!next.stderr.contains("ANOMALY") && !next.stderr.contains("shrink"), "\(next.stderr)")
        }
        #expect(
            try TestServer.manifests(dir + "/" + db).allSatisfy { $0.manifest.shrinkAccepted != true },
            "the accepted backup itself was pruned by now")
    }
}
