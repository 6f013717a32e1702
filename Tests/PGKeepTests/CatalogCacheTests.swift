import Foundation
import Testing

@testable import PGKeep

/// The catalog cache (`DIR/.pgkeep-catalog.<folder>`): a warm scan gives what the manifests give;
/// a changed folder, a damaged, foreign or symlinked summary is read from the manifests again; a
/// folder in flight is not summarised; and the real prune never reads a summary.
///
/// Most tests prove a summary was or was not read with one trick: a manifest edited in place (as
/// pgkeep never does: it renames a new manifest over the old) leaves its folder's stat as it was,
/// so a summary written before the edit still shows the old label, and a scan of the manifests
/// shows the new one.
@Suite struct CatalogCacheTests {
    static let oldLabel = "before-upgrade 3"
    static let newLabel = "BEFORE-UPGRADE 3"

    /// Two folders (shop and crm) of `count` hourly backups each, with every summary field in use,
    /// and an orphan in shop. Settled (last changed over two seconds ago) when it returns.
    static func fixture(count: Int = 40, settle: Bool = true) throws -> String {
        let dir = NSTemporaryDirectory() + "pgkeep-cache-\(UUID().uuidString)"
        let stamp = DateFormatter()
        stamp.locale = Locale(identifier: "en_US_POSIX")
        stamp.timeZone = TimeZone(identifier: "UTC")
        stamp.dateFormat = "yyyy-MM-dd'T'HHmmss'Z'"
        for db in ["shop", "crm"] {
            try FileManager.default.createDirectory(atPath: dir + "/" + db, withIntermediateDirectories: true)
            for i in 0..<count {
                let time = Date(timeIntervalSince1970: 1_775_000_000 - Double(i) * 3600)
                let name = "\(db)_\(stamp.string(from: time)).dump.gz"
                var fields = [
                    "\"database\": \"\(db)\"", "\"file\": \"\(name)\"", "\"format\": \"custom\"",
                    "\"size\": \(1000 + i)",
                    "\"pinned\": \(i % 7 == 6)", "\"duration_seconds\": \(Double(i) * 1.25)",
                    "\"finished_at\": \"2026-04-0\(1 + i % 9)T02:00:00Z\"",
                ]
                if i % 3 == 0 { fields.append("\"label\": \"before-upgrade \(i)\"") }
                if i % 5 == 1 {
                    fields.append("\"anomalies\": [\"public.orders fell from 10 to 1 rows\", \"ünïcode\"]")
                }
                if i % 10 == 1 { fields += ["\"shrink_accepted\": true", "\"shrink_baseline\": \"earlier.dump.gz\""] }
                try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/\(db)/" + name))
                try Data(("{" + fields.joined(separator: ", ") + "}").utf8).write(
                    to: URL(fileURLWithPath: dir + "/\(db)/" + name + ".manifest.json"))
            }
        }
        try Data("mine".utf8).write(to: URL(fileURLWithPath: dir + "/shop/shop_2025-01-01T020000Z.dump.gz"))
        if settle { Self.settle() }
        return dir
    }

    static func settle() { usleep(UInt32((CatalogCache.settleSeconds + 0.2) * 1_000_000)) }

    /// Everything a scan found, as comparable lines.
    static func rows(_ s: CatalogScan) -> [String] {
        s.backups.map { b in
            let m = b.manifest
            return [
                b.dataPath, b.manifestPath, b.name.fileName, "\(b.name.time)", "\(b.name.sequence)", m.database, m.file,
                m.format.rawValue, "\(m.size)", m.label ?? "-", "\(m.pinned)", String(describing: m.anomalies),
                String(describing: m.shrinkAccepted), m.shrinkBaseline ?? "-", m.finishedAt ?? "-",
                String(describing: m.durationSeconds),
            ].joined(separator: "|")
        } + ["leftovers \(s.leftovers)", "orphans \(s.orphans)", "broken \(s.broken)", "temporary \(s.temporary)"]
    }

    static func summary(_ dir: String, _ folder: String) -> String { dir + "/" + CatalogCache.prefix + folder }

    /// Edits shop's backup 3 label in place (same length): the folder's stat does not change.
    static func editInPlace(_ dir: String, from: String = oldLabel, to: String = newLabel) throws {
        let scan = try CatalogScan.scan(dir, database: "shop")
        let path = try #require(scan.backups.first { $0.manifest.label == from }).manifestPath
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let fd = open(path, O_WRONLY)
        defer { close(fd) }
        let edited = Array(text.replacingOccurrences(of: from, with: to).utf8)
        #expect(edited.count == text.utf8.count)
        #expect(pwrite(fd, edited, edited.count, 0) == edited.count)
    }

    /// The label of shop's backup 3 as a cached scan gives it.
    static func cachedLabel(_ dir: String) throws -> String? {
        let scan = try CatalogScan.scan(dir, cached: true)
        return scan.backups.first { $0.manifest.label == oldLabel || $0.manifest.label == newLabel }?.manifest.label
    }

    @Test func aSummaryGivesWhatTheManifestsGive() throws {
        let dir = try Self.fixture()
        let truth = try CatalogScan.scan(dir)
        #expect(truth.backups.count == 80 && truth.orphans.count == 1)
        #expect(Self.rows(try CatalogScan.scan(dir, cached: true)) == Self.rows(truth))  // writes the summaries
        for folder in ["shop", "crm"] {
            var st = stat()
            #expect(lstat(Self.summary(dir, folder), &st) == 0 && st.st_mode & 0o777 == 0o600)
        }
        #expect(Self.rows(try CatalogScan.scan(dir, cached: true)) == Self.rows(truth))  // reads them
        #expect(
            Self.rows(try CatalogScan.scan(dir, database: "crm", cached: true))
                == Self.rows(try CatalogScan.scan(dir, database: "crm")))
        // And it was read: an edit that leaves the folder's stat alone is not seen through it.
        try Self.editInPlace(dir)
        #expect(try Self.cachedLabel(dir) == Self.oldLabel)
        #expect(try CatalogScan.scan(dir).backups.contains { $0.manifest.label == Self.newLabel })
    }

    @Test func aFolderThatChangedIsReadAgain() throws {
        let dir = try Self.fixture()
        _ = try CatalogScan.scan(dir, cached: true)
        let newest = try #require(try CatalogScan.scan(dir, database: "shop").backups.first)
        // A new backup (written and renamed into place, as pgkeep commits).
        let name = "shop_2026-12-01T020000Z.dump.gz"
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/shop/" + name))
        let manifest =
            "{\"database\": \"shop\", \"file\": \"\(name)\", \"format\": \"custom\", \"size\": 1, \"pinned\": false}"
        try Data(manifest.utf8).write(to: URL(fileURLWithPath: dir + "/shop/.m"))
        #expect(rename(dir + "/shop/.m", dir + "/shop/" + name + ".manifest.json") == 0)
        #expect(Self.rows(try CatalogScan.scan(dir, cached: true)) == Self.rows(try CatalogScan.scan(dir)))
        #expect(try CatalogScan.scan(dir, cached: true).backups.first?.name.fileName == name)
        // A manifest rewritten as pin rewrites it (a new file renamed over it): seen.
        let text = try String(contentsOfFile: newest.manifestPath, encoding: .utf8)
        try FileSystem.replace(
            newest.manifestPath,
            with: Data(text.replacingOccurrences(of: "\"pinned\": false", with: "\"pinned\": true").utf8))
        #expect(
            try CatalogScan.scan(dir, cached: true).backups.first { $0.dataPath == newest.dataPath }?.manifest.pinned
                == true)
        // A deleted backup is gone.
        #expect(unlink(newest.manifestPath) == 0 && unlink(newest.dataPath) == 0)
        #expect(try !CatalogScan.scan(dir, cached: true).backups.contains { $0.dataPath == newest.dataPath })
        Self.settle()
        #expect(Self.rows(try CatalogScan.scan(dir, cached: true)) == Self.rows(try CatalogScan.scan(dir)))
        #expect(Self.rows(try CatalogScan.scan(dir, cached: true)) == Self.rows(try CatalogScan.scan(dir)))
    }

    @Test func aDamagedSummaryIsReadFromTheManifestsAndWrittenAnew() throws {
        let dir = try Self.fixture()
        _ = try CatalogScan.scan(dir, cached: true)
        let path = Self.summary(dir, "shop")
        let valid = try Data(contentsOf: URL(fileURLWithPath: path))
        try Self.editInPlace(dir)
        #expect(try Self.cachedLabel(dir) == Self.oldLabel)  // the valid summary is read
        var damaged: [(String, Data)] = []
        for offset in [0, 5, 16, 17, 30, 80, 100, valid.count / 2, valid.count - 5, valid.count - 1] {
            var d = valid
            d[offset] ^= 0x20
            damaged.append(("byte \(offset) flipped", d))
        }
        for length in [0, 1, 16, 90, valid.count / 2, valid.count - 4, valid.count - 1] {
            damaged.append(("cut at \(length)", valid.prefix(length)))
        }
        damaged.append(("a byte appended", valid + Data([0])))
        damaged.append(("crm's summary", try Data(contentsOf: URL(fileURLWithPath: Self.summary(dir, "crm")))))
        for (what, bytes) in damaged {
            unlink(path)
            try FileSystem.writePrivateFile(path, data: bytes)
            #expect(try Self.cachedLabel(dir) == Self.newLabel, "\(what): read")
            let after = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(after != bytes, "\(what): not written anew")
            unlink(path)
            try FileSystem.writePrivateFile(path, data: valid)
        }
    }

    @Test func aSummaryThatIsNotPlainlyTheUsersOwnFileIsNotRead() throws {
        let dir = try Self.fixture()
        _ = try CatalogScan.scan(dir, cached: true)
        let path = Self.summary(dir, "shop")
        let elsewhere = dir + "/../" + UUID().uuidString
        #expect(rename(path, elsewhere) == 0)
        defer { unlink(elsewhere) }
        try Self.editInPlace(dir)
        // Pointed at by a symlink: not followed, and replaced by a file of pgkeep's.
        #expect(symlink(elsewhere, path) == 0)
        #expect(try Self.cachedLabel(dir) == Self.newLabel)
        var st = stat()
        #expect(lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG)
        // Readable by others, or another user's: not read (where the same summary, plainly the
        // user's, is).
        try Self.editInPlace(dir, from: Self.newLabel, to: Self.oldLabel)
        #expect(try Self.cachedLabel(dir) == Self.newLabel)
        #expect(chmod(path, 0o644) == 0)
        #expect(try Self.cachedLabel(dir) == Self.oldLabel)
        #expect(lstat(path, &st) == 0 && st.st_mode & 0o777 == 0o600)
        if geteuid() == 0 {
            try Self.editInPlace(dir, from: Self.oldLabel, to: Self.newLabel)
            #expect(try Self.cachedLabel(dir) == Self.oldLabel)
            #expect(chown(path, 65534, 65534) == 0)
            #expect(try Self.cachedLabel(dir) == Self.newLabel)
        }
        // A FIFO (an open would block without O_NONBLOCK) and a directory in its place.
        unlink(path)
        #expect(mkfifo(path, 0o600) == 0)
        #expect(try Self.cachedLabel(dir) != nil)
        unlink(path)
        #expect(mkdir(path, 0o700) == 0)
        #expect(Self.rows(try CatalogScan.scan(dir, cached: true)) == Self.rows(try CatalogScan.scan(dir)))
    }

    @Test func aFolderInFlightOrJustChangedIsNotSummarised() throws {
        let dir = try Self.fixture(settle: false)
        _ = try CatalogScan.scan(dir, cached: true)
        #expect(!FileManager.default.fileExists(atPath: Self.summary(dir, "shop")), "changed in the last two seconds")
        // A run's temporary file in shop, an unreadable manifest in crm.
        try Data("{}".utf8).write(
            to: URL(fileURLWithPath: dir + "/shop/.pgkeep-tmp-42-beef-shop_2026-12-01T020000Z.dump.gz.manifest.json"))
        try Data("{".utf8).write(to: URL(fileURLWithPath: dir + "/crm/crm_2026-12-01T020000Z.dump.gz.manifest.json"))
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/crm/crm_2026-12-01T020000Z.dump.gz"))
        Self.settle()
        let scan = try CatalogScan.scan(dir, cached: true)
        #expect(scan.temporary.count == 1 && scan.broken.count == 1)
        #expect(!FileManager.default.fileExists(atPath: Self.summary(dir, "shop")))
        #expect(!FileManager.default.fileExists(atPath: Self.summary(dir, "crm")))
        #expect(Self.rows(try CatalogScan.scan(dir, cached: true)) == Self.rows(try CatalogScan.scan(dir)))
    }

    @Test func aSummaryNeverDecidesWhatPruneDeletes() throws {
        let dir = try Self.fixture(count: 6)
        _ = try CatalogScan.scan(dir, cached: true)
        // The oldest backup of shop pinned in place: the summary still says it is not.
        let oldest = try #require(try CatalogScan.scan(dir, database: "shop").backups.last)
        #expect(!oldest.manifest.pinned)
        let text = try String(contentsOfFile: oldest.manifestPath, encoding: .utf8)
        let pinned = text.replacingOccurrences(of: "\"pinned\": false", with: "\"pinned\": true ")
        let fd = open(oldest.manifestPath, O_WRONLY)
        #expect(pwrite(fd, Array(pinned.utf8), pinned.utf8.count, 0) == pinned.utf8.count)
        close(fd)
        var job = PruneJob(directory: dir, database: "shop", policy: RetentionPolicy(last: 1))
        job.dryRun = true
        let dry = try job.run()
        #expect(
            dry.items.contains { $0.entry.dataPath == oldest.dataPath && !$0.decision.keep },
            "the dry run reads the summary")
        job.dryRun = false
        let real = try job.run()
        #expect(real.items.contains { $0.entry.dataPath == oldest.dataPath && $0.decision.keep })
        #expect(FileManager.default.fileExists(atPath: oldest.dataPath))
        #expect(FileManager.default.fileExists(atPath: oldest.manifestPath))
        #expect(try CatalogScan.scan(dir, database: "shop").backups.count == 2)  // the newest and the pinned one
    }

    @Test func theRealPruneRemovesWhatTheCacheLeftBehind() throws {
        let dir = try Self.fixture(count: 2)
        _ = try CatalogScan.scan(dir, cached: true)
        // A summary whose folder was removed by hand, and the temporary file of a killed writer.
        #expect(rename(dir + "/crm", dir + "/../\(UUID().uuidString)") == 0)
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        let temp = dir + "/.pgkeep-tmp-\(dead.processIdentifier)-77-catalog.shop"
        try FileSystem.writePrivateFile(temp, data: Data("x".utf8))
        let live = dir + "/.pgkeep-tmp-\(getppid())-77-catalog.shop"  // its writer still runs
        try FileSystem.writePrivateFile(live, data: Data("x".utf8))
        // pid 1 (pgkeep as a container's entrypoint, killed with it) runs, but the file is old.
        let oldOne = dir + "/.pgkeep-tmp-1-78-catalog.shop"
        try FileSystem.writePrivateFile(oldOne, data: Data("x".utf8))
        var past = [
            timeval(tv_sec: time(nil) - 3 * 3600, tv_usec: 0), timeval(tv_sec: time(nil) - 3 * 3600, tv_usec: 0),
        ]
        #expect(utimes(oldOne, &past) == 0)
        // Not pgkeep's: a directory with a summary's name, never removed.
        try FileManager.default.createDirectory(
            atPath: dir + "/.pgkeep-catalog.gone/keep", withIntermediateDirectories: true)
        try Data("precious".utf8).write(to: URL(fileURLWithPath: dir + "/.pgkeep-catalog.gone/keep/file"))
        var job = PruneJob(directory: dir, policy: RetentionPolicy(last: 5))
        job.dryRun = true
        #expect(Set(try job.run().temporary) == [temp, oldOne, Self.summary(dir, "crm")])
        job.dryRun = false
        _ = try job.run()
        #expect(!FileManager.default.fileExists(atPath: temp))
        #expect(!FileManager.default.fileExists(atPath: Self.summary(dir, "crm")))
        #expect(FileManager.default.fileExists(atPath: Self.summary(dir, "shop")))
        #expect(FileManager.default.fileExists(atPath: live))
        #expect(!FileManager.default.fileExists(atPath: oldOne))
        #expect(FileManager.default.fileExists(atPath: dir + "/.pgkeep-catalog.gone/keep/file"))
    }

    /// `eachDatabase` (what `list --json`, `prune --dry-run --json` and `status` read a database at
    /// a time) gives, in retention's order, what the whole scan gives: the same decisions for the
    /// same backups, a database's folders together (two spellings of "café"), the globals first and
    /// a database named "@globals" apart from them; the other files in the whole scan's order; and
    /// `status` the same entries (where the globals and "@globals" are one name).
    @Test func aDatabaseAtATimeIsTheWholeScan() throws {
        let dir = try Self.fixture(count: 12, settle: false)
        func backup(_ folder: String, _ name: BackupName, orphan: Bool = false) throws {
            try FileManager.default.createDirectory(atPath: dir + "/" + folder, withIntermediateDirectories: true)
            let file = folder + String(name.fileName.drop { $0 != "_" })
            try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/\(folder)/" + file))
            guard !orphan else { return }
            let manifest =
                "{\"database\": \"\(name.database)\", \"file\": \"\(file)\", \"format\": \"\(name.format.rawValue)\", \"size\": 1, \"pinned\": false}"
            try Data(manifest.utf8).write(to: URL(fileURLWithPath: dir + "/\(folder)/" + file + ".manifest.json"))
        }
        let precomposed = "caf\u{e9}"
        let decomposed = "cafe\u{301}"
        for day in 0..<6 {
            let time = Date(timeIntervalSince1970: 1_775_000_000 - Double(day) * 86_400)
            let orphan = day == 5
            try backup(
                "@globals", BackupName(database: "@globals", time: time, format: .globals, codec: .gzip), orphan: orphan
            )
            try backup(
                "%40globals", BackupName(database: "@globals", time: time, format: .custom, codec: .gzip),
                orphan: orphan)
            try backup("1db", BackupName(database: "1db", time: time, format: .custom, codec: .gzip), orphan: orphan)
            // café in two folders: retention counts them as one database.
            for (name, shift) in [(precomposed, 0.0), (decomposed, 60.0)] {
                let b = BackupName(database: name, time: time + shift, format: .custom, codec: .gzip)
                try backup(BackupName.folderName(for: name), b)
            }
        }
        let job = PruneJob(directory: dir, policy: RetentionPolicy(last: 2, daily: 3))
        func rows(_ items: [PruneJob.Item]) -> [String] {
            items.map { "\($0.entry.dataPath) \($0.decision.keep) \($0.decision.reasons)" }
        }
        func statusRows(_ entries: [StatusCheck.Entry]) -> [String] {
            entries.map { "\($0.database) \($0.newestPath ?? "-") \($0.count) \(String(describing: $0.oldestTime))" }
        }
        let now = Date(timeIntervalSince1970: 1_775_100_000)
        for cached in [false, true, true] {
            let whole = try CatalogScan.scan(dir)
            var parts: [CatalogScan] = []
            try CatalogScan.eachDatabase(dir, cached: cached) { parts.append($0) }
            #expect(parts.count == 6)  // @globals, the database "@globals", 1db, café (two folders), crm, shop
            #expect(rows(parts.flatMap { job.plan($0) }) == rows(job.plan(whole)))
            var streamed: [PruneJob.Item] = []
            let result = try job.dryRun { streamed += $0 }
            #expect(rows(streamed) == rows(job.plan(whole)))
            #expect(result.items.isEmpty && result.orphans == whole.orphans && whole.orphans.count == 4)
            var one: [CatalogScan] = []
            try CatalogScan.eachDatabase(dir, database: "crm", cached: cached) { one.append($0) }
            let crm = try CatalogScan.scan(dir, database: "crm")
            #expect(one.count == 1 && rows(job.plan(one[0])) == rows(job.plan(crm)))
            // status: each database once, the globals and "@globals" together, as asked for.
            for asked in [nil, [decomposed, "@globals", "nope"]] {
                let check = StatusCheck(directory: dir, databases: asked, maxAge: 86_400)
                let reference = check.evaluate(StatusCheck.byDatabase(whole.backups), location: "local", now: now)
                #expect(statusRows(try check.run(now: now).entries) == statusRows(reference))
            }
            Self.settle()  // the cached rounds read summaries
        }
    }
}
