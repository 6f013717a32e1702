import Foundation
import Testing

@testable import PGKeep

/// prune, list, pin and backup --prune on real directories.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"))
struct RetentionTests {
    static let end = Date(timeIntervalSince1970: 1_775_095_200)  // 2026-04-02T02:00:00Z

    /// A backup directory holding `days` nightly backups of pagila (copies of one real backup under
    /// past names, their manifests rewritten to match).
    func history(days: Int, sourceLocation: SourceLocation = #_sourceLocation) throws -> (dir: String, folder: String) {
        let dir = TestServer.tempDir("ret")
        let run = try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--schema-only"])
        #expect(run.status == 0, "\(run.stderr)", sourceLocation: sourceLocation)
        let (manifestPath, manifest) = try #require(try TestServer.manifests(dir).first, sourceLocation: sourceLocation)
        let folder = (manifestPath as NSString).deletingLastPathComponent
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + manifest.file))
        try FileManager.default.removeItem(atPath: folder + "/" + manifest.file)
        try FileManager.default.removeItem(atPath: manifestPath)
        for i in 0..<days {
            let time = Self.end.addingTimeInterval(Double(-i) * 86400)
            let name = BackupName(database: TestServer.pagila, time: time, format: .custom, codec: .gzip)
            var m = manifest
            m.file = name.fileName
            m.startedAt = BackupName.isoString(time)
            try data.write(to: URL(fileURLWithPath: folder + "/" + name.fileName))
            try m.encoded().write(to: URL(fileURLWithPath: folder + "/" + name.manifestName))
        }
        return (dir, folder)
    }

    func fingerprint(_ paths: [String]) throws -> [String: String] {
        var out: [String: String] = [:]
        for p in paths {
            var st = stat()
            lstat(p, &st)
            if (st.st_mode & S_IFMT) == S_IFLNK {
                out[p] = "link:" + (try FileManager.default.destinationOfSymbolicLink(atPath: p))
            } else {
                out[p] = try TestServer.sha256sum(p)
            }
        }
        return out
    }

    @Test func pruneKeepsThePolicyAndTouchesNothingElse() throws {
        let (dir, folder) = try history(days: 200)
        // Foreign things: notes, a dump without a manifest, a pgkeep-looking file without one, another
        // tool's files, and symlinks to a directory elsewhere (which holds pgkeep-looking files).
        let elsewhere = TestServer.tempDir("elsewhere")
        let lookalike = BackupName(
            database: TestServer.pagila, time: Self.end.addingTimeInterval(-400 * 86400), format: .custom,
            codec: .gzip)
        try Data("x".utf8).write(to: URL(fileURLWithPath: elsewhere + "/" + lookalike.fileName))
        try Data("{}".utf8).write(to: URL(fileURLWithPath: elsewhere + "/" + lookalike.manifestName))
        try FileManager.default.createDirectory(atPath: dir + "/pg_back", withIntermediateDirectories: true)
        let foreign = [
            dir + "/notes.txt", folder + "/notes.txt", folder + "/manual.dump", dir + "/pg_back/shop_2020.dump",
            folder + "/"
                + BackupName(
                    database: TestServer.pagila, time: Self.end.addingTimeInterval(-500 * 86400), format: .custom,
                    codec: .gzip
                ).fileName,
        ]
        for f in foreign { try Data("keep me \(f)".utf8).write(to: URL(fileURLWithPath: f)) }
        try FileManager.default.createSymbolicLink(atPath: folder + "/linked", withDestinationPath: elsewhere)
        try FileManager.default.createSymbolicLink(atPath: dir + "/otherdb", withDestinationPath: elsewhere)
        let outside = [elsewhere + "/" + lookalike.fileName, elsewhere + "/" + lookalike.manifestName]
        let before = try fingerprint(foreign + outside + [folder + "/linked", dir + "/otherdb"])

        let dry = try TestServer.pgkeep(["prune", "--dir", dir, "--dry-run", "--json"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(try TestServer.manifests(dir).count == 200, "--dry-run deletes nothing")

        let run = try TestServer.pgkeep(["prune", "--dir", dir, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let candidates = try #require(json["candidates"] as? [[String: Any]])
        #expect(candidates.count == 200)
        let kept = candidates.filter { $0["action"] as? String == "keep" }
        #expect(kept.count == 17, "7 daily + 4 weekly + 6 monthly")
        let first = try #require(candidates.first)
        #expect(first["time"] as? String == "2026-04-02T02:00:00Z")
        #expect(first["reasons"] as? [String] == ["daily 1/7"])
        #expect(first["database"] as? String == TestServer.pagila)
        #expect(first["pinned"] as? Bool == false)
        let remaining = try TestServer.manifests(dir)
        #expect(remaining.count == 17)
        for m in remaining { #expect(FileManager.default.fileExists(atPath: folder + "/" + m.manifest.file)) }
        for c in candidates where c["action"] as? String == "delete" {
            #expect(!FileManager.default.fileExists(atPath: c["path"] as! String))
        }
        #expect(
            try fingerprint(foreign + outside + [folder + "/linked", dir + "/otherdb"]) == before,
            "foreign files are untouched")
        // Pruning again deletes nothing.
        let again = try TestServer.pgkeep(["prune", "--dir", dir, "--json"])
        #expect(again.stdout.contains("\"deleted\" : 0"), "\(again.stdout)")
    }

    @Test func aCrashBetweenTheTwoDeletionsLeavesListAndPruneConsistent() throws {
        let (dir, folder) = try history(days: 3)
        let victim = try #require(
            try TestServer.manifests(dir).sorted { $0.manifest.startedAt < $1.manifest.startedAt }.first)
        // Prune's first step, then a crash: the manifest is a tombstone, the data is still there.
        let tombstone = folder + "/" + CatalogScan.tombstonePrefix + (victim.path as NSString).lastPathComponent
        #expect(rename(victim.path, tombstone) == 0)
        let list = try TestServer.pgkeep(["list", "--dir", dir, "--json"])
        #expect(list.status == 0)
        let listed = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])
        #expect((listed["backups"] as? [Any])?.count == 2, "the half-deleted backup is not a backup")
        #expect((listed["leftovers"] as? [String]) == [folder + "/" + victim.manifest.file])
        let prune = try TestServer.pgkeep(["prune", "--dir", dir, "--keep-last", "10"])
        #expect(prune.status == 0, "\(prune.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/" + victim.manifest.file))
        #expect(!FileManager.default.fileExists(atPath: tombstone))
        #expect(try TestServer.manifests(dir).count == 2)
    }

    @Test func pinnedBackupsSurvive() throws {
        let (dir, folder) = try history(days: 40)
        let oldest = try #require(
            try TestServer.manifests(dir).sorted { $0.manifest.startedAt < $1.manifest.startedAt }.first)
        let middle = BackupName(
            database: TestServer.pagila, time: Self.end.addingTimeInterval(-20 * 86400), format: .custom,
            codec: .gzip)
        #expect(try TestServer.pgkeep(["pin", folder + "/" + middle.fileName]).status == 0)
        #expect(try TestServer.pgkeep(["pin", oldest.path]).status == 0)
        #expect(try TestServer.pgkeep(["unpin", oldest.path]).status == 0)
        let run = try TestServer.pgkeep([
            "prune", "--dir", dir, "--keep-daily", "2", "--keep-weekly", "0", "--keep-monthly", "0",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("pinned"), "\(run.stdout)")
        let left = Set(try TestServer.manifests(dir).map(\.manifest.file))
        #expect(left.contains(middle.fileName))
        #expect(left.count == 3, "2 daily + the pinned one: \(left)")
        #expect(try Manifest.load(path: folder + "/" + middle.manifestName).pinned)
    }

    @Test func listShowsWhatKeepsEachBackup() throws {
        let (dir, _) = try history(days: 10)
        let run = try TestServer.pgkeep(["list", "--dir", dir])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("DATABASE") == true)
        #expect(lines.count == 11)
        #expect(lines[1].contains("2026-04-02T02:00:00Z") && lines[1].contains("daily 1/7"))
        #expect(run.stdout.contains("(prune would delete)"))
        // A reader that goes away early (| head) ends the output quietly, without a crash.
        for args in ["list --dir '\(dir)' --json", "list --dir '\(dir)'"] {
            let piped = try TestServer.run(
                "/bin/bash", ["-c", "'\(TestServer.binary)' \(args) | head -c 10 > /dev/null; echo ${PIPESTATUS[0]}"])
            #expect(piped.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(args): \(piped.stderr)")
        }
    }

    @Test func backupPrunesOnlyAfterItSucceeded() throws {
        let (dir, _) = try history(days: 30)
        let failing = try TestServer.fakeToolDir(pgDump: "exit 1")
        let bad = try TestServer.pgkeep([
            "backup", "-d", TestServer.pagila, "--dir", dir, "--pg-bin", failing, "--prune", "--keep-last", "1",
        ])
        #expect(bad.status == ExitCodes.failure)
        #expect(try TestServer.manifests(dir).count == 30, "a failed backup never prunes")
        let good = try TestServer.pgkeep([
            "backup", "-d", TestServer.pagila, "--dir", dir, "--schema-only", "--prune",
            "--keep-last", "2", "--keep-daily", "0", "--keep-weekly", "0", "--keep-monthly", "0",
        ])
        #expect(good.status == 0, "\(good.stderr)")
        let left = try TestServer.manifests(dir)
        #expect(left.count == 2)
        #expect(left.contains { $0.manifest.startedAt > "2026-05" }, "the new backup is one of them")
    }

    @Test func aSecondRunIsLockedOut() throws {
        let (dir, _) = try history(days: 20)
        let lock = try DirectoryLock(directory: dir)
        let started = Date()
        let run = try TestServer.pgkeep(["prune", "--dir", dir])
        #expect(run.status == ExitCodes.locked, "\(run.stderr)")
        #expect(run.stderr.contains("another pgkeep run holds"))
        #expect(Date().timeIntervalSince(started) < 10, "refused at once, not after waiting for the lock")
        #expect(try TestServer.manifests(dir).count == 20)
        let backup = try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir])
        #expect(backup.status == ExitCodes.locked)
        withExtendedLifetime(lock) {}
    }
}
