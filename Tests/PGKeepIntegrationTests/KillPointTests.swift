import Foundation
import Testing

@testable import PGKeep

/// The kill-point campaign: pgkeep is killed with SIGKILL at many instants of each command, at
/// seeded fractions of its uninterrupted run time and exactly at its file-system calls (strace
/// delivers SIGKILL on the Nth link, unlink, rename, fsync or mkdir). After every kill: nothing
/// incomplete carries a manifest, every earlier backup still matches its manifest, `list` and
/// `prune --dry-run` work, no pgkeep child and no pgkeep-* backend is left after 10 s, and the
/// next run succeeds and removes the leftovers.
///
/// Under `Scripts/test.sh` a short seeded sample runs; `Scripts/killpoints.sh` runs the whole
/// campaign (PGKEEP_KILLPOINTS instants per command) and prints its figures.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"), .tags(.killPoints))
struct KillPointTests {
    /// Instants per command (a sample under test.sh; the campaign sets more).
    static var instants: Int { Int(TestServer.env["PGKEEP_KILLPOINTS"] ?? "") ?? 2 }
    static var seed: UInt64 { UInt64(TestServer.env["PGKEEP_KILLPOINT_SEED"] ?? "") ?? 20_261_127 }

    /// The seeded fractions of a run at which to kill (the same every time for one seed).
    static func fractions(_ label: String) -> [Double] {
        var state = seed ^ UInt64(truncatingIfNeeded: label.utf8.reduce(5381) { ($0 &* 33) &+ Int($1) })
        return (0..<instants).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
    }

    /// Appends one outcome line to the campaign's report (PGKEEP_KILLPOINT_REPORT), if asked.
    static func record(_ command: String, _ point: String, lost: Bool) {
        guard let path = TestServer.env["PGKEEP_KILLPOINT_REPORT"] else { return }
        let line = "\(command)\t\(point)\t\(lost ? "LOST" : "ok")\n"
        if let handle = FileHandle(forWritingAtPath: path) {
            handle.seekToEndOfFile()
            handle.write(Data(line.utf8))
            handle.closeFile()
        } else {
            _ = FileManager.default.createFile(atPath: path, contents: Data(line.utf8))
        }
    }

    /// pgkeep `args`, SIGKILLed `delay` seconds after it started (if it still runs); its pid.
    static func killAfter(_ delay: Double, _ args: [String], env: [String: String]? = nil) throws -> Int32 {
        var pid: Int32 = 0
        _ = try TestServer.pgkeep(args, env: env) { p in
            pid = p
            usleep(UInt32(delay * 1_000_000))
            kill(p, SIGKILL)
        }
        return pid
    }

    /// pgkeep `args` under strace, SIGKILLed on its `n`th call of `syscall`; whether it got there.
    static func killAtSyscall(_ syscall: String, _ n: Int, _ args: [String]) throws -> Bool {
        let run = try TestServer.run(
            "/usr/bin/strace",
            [
                "-f", "-qq", "-o", "/dev/null", "-e", "trace=\(syscall)", "-e",
                "inject=\(syscall):signal=KILL:when=\(n)", "--",
            ]
                + [TestServer.binary] + args)
        return run.status != 0
    }

    /// The backups of `dir` as their manifests and data checksums say.
    static func snapshot(_ dir: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for (path, m) in try backups(dir) { out[path] = m.sha256 }
        return out
    }

    /// The manifests of `dir` that make backups (not the temporary ones of a commit or a prune).
    static func backups(_ dir: String) throws -> [(path: String, manifest: Manifest)] {
        guard FileManager.default.fileExists(atPath: dir) else { return [] }
        return try TestServer.listing(dir).filter {
            $0.hasSuffix(BackupName.manifestSuffix) && !$0.contains(".pgkeep-tmp-") && !$0.contains(".pgkeep-deleting-")
        }.map {
            let p = (dir as NSString).appendingPathComponent($0)
            return (p, try Manifest.load(path: p))
        }
    }

    /// What must hold after any kill. Returns whether anything was lost or half-written.
    @discardableResult
    static func checkAfterKill(
        _ label: String, dir: String, earlier: [String: String], pid: Int32?, verifyArgs: [String] = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Bool {
        var lost = false
        func require(_ ok: Bool, _ what: String) {
            if !ok {
                lost = true
                Issue.record("\(label): \(what)", sourceLocation: sourceLocation)
            }
        }
        if let pid {
            let quiet = OperationsTests.waitFor(10) {
                OperationsTests.backends(of: pid).isEmpty && !FaultTests.processRunning(argvContains: dir)
            }
            require(quiet, "a pgkeep child or pgkeep-\(pid) backend still there after 10 s")
        }
        // Every manifest's backup is whole (verify reads it to its end); the earlier ones are unchanged.
        let now = try snapshot(dir)
        for (path, sha) in earlier { require(now[path] == sha, "the earlier backup \(path) changed or went") }
        if !now.isEmpty {
            let verify = try TestServer.pgkeep(["verify", "--all", "--dir", dir] + verifyArgs)
            require(verify.status == 0, "a manifested backup does not verify: \(verify.stderr)")
        }
        let list = try TestServer.pgkeep(["list", "--dir", dir])
        require(list.status == 0, "list fails: \(list.stderr)")
        let dry = try TestServer.pgkeep(["prune", "--dir", dir, "--dry-run"])
        require(dry.status == 0, "prune --dry-run fails: \(dry.stderr)")
        return lost
    }

    /// The next run succeeds and its prune removes every leftover of the killed one.
    static func checkNextRun(
        _ label: String, dir: String, all: Bool = false, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let which = all ? ["--all"] : ["--database", TestServer.pagila]
        let next = try TestServer.pgkeep(["run", "--dir", dir, "--keep-last", "-1", "--quiet"] + which)
        #expect(next.status == 0, "\(label): the next run: \(next.stderr)", sourceLocation: sourceLocation)
        let left = TestServer.listing(dir).filter { $0.contains(".pgkeep-tmp-") || $0.contains(".pgkeep-deleting-") }
        #expect(left.isEmpty, "\(label): leftovers after the next run: \(left)", sourceLocation: sourceLocation)
    }

    static let backupVariants: [(label: String, args: [String])] = [
        ("custom", []),
        ("plain", ["--format", "plain"]),
        ("zstd", ["--compress", "zstd"]),
        ("directory", ["--format", "directory", "--jobs", "2"]),
        ("--all", ["--all"]),
    ]

    @Test(arguments: backupVariants)
    func backupKilledAtSeededInstants(label: String, args: [String]) throws {
        let dir = TestServer.tempDir("kpb")
        let base = ["backup", "--dir", dir] + (args.contains("--all") ? args : ["-d", TestServer.pagila] + args)
        let started = Date()
        #expect(try TestServer.pgkeep(base).status == 0)
        let full = Date().timeIntervalSince(started)
        for fraction in Self.fractions("backup " + label) {
            let earlier = try Self.snapshot(dir)
            let pid = try Self.killAfter(full * fraction, base)
            let lost = try Self.checkAfterKill(
                "backup \(label) at \(Int(fraction * 100))%", dir: dir, earlier: earlier, pid: pid)
            Self.record("backup \(label)", "t=\(Int(fraction * 100))%", lost: lost)
        }
        try Self.checkNextRun("backup \(label)", dir: dir, all: args.contains("--all"))
    }

    @Test func encryptedBackupKilledAtSeededInstants() throws {
        let key = try TestServer.ageKey()
        let dir = TestServer.tempDir("kpe")
        let base = ["backup", "-d", TestServer.pagila, "--dir", dir, "--encrypt-to", key.recipient]
        let started = Date()
        #expect(try TestServer.pgkeep(base).status == 0)
        let full = Date().timeIntervalSince(started)
        for fraction in Self.fractions("backup encrypted") {
            let earlier = try Self.snapshot(dir)
            let pid = try Self.killAfter(full * fraction, base)
            let lost = try Self.checkAfterKill(
                "encrypted at \(Int(fraction * 100))%", dir: dir, earlier: earlier, pid: pid,
                verifyArgs: ["--identity", key.keyFile])
            Self.record("backup encrypted", "t=\(Int(fraction * 100))%", lost: lost)
        }
    }

    /// Exactly at the commit: each link (data, then manifest into place), unlink (their temporary
    /// names), fsync (file, manifest, folders) and mkdir of a backup.
    static let backupSyscalls: [(String, Int)] = [
        ("mkdir", 1), ("fsync", 1), ("fsync", 2), ("fsync", 3),
        ("link", 1), ("unlink", 1), ("link", 2), ("unlink", 2),
    ]

    @Test func backupKilledAtEachCommitCall() throws {
        let dir = TestServer.tempDir("kps")
        for (syscall, n) in Self.backupSyscalls {
            let earlier = try Self.snapshot(dir)
            let killed = try Self.killAtSyscall(syscall, n, ["backup", "-d", TestServer.pagila, "--dir", dir])
            #expect(killed, "the backup reached its \(syscall) #\(n)")
            let lost = try Self.checkAfterKill("backup at \(syscall) #\(n)", dir: dir, earlier: earlier, pid: nil)
            Self.record("backup", "\(syscall)#\(n)", lost: lost)
        }
        try Self.checkNextRun("backup syscalls", dir: dir)
    }

    /// Prune's deletions (manifest to tombstone, fsync, data, tombstone) and pin's manifest rewrite.
    @Test func pruneAndPinKilledAtEachCall() throws {
        let dir = TestServer.tempDir("kpp")
        for _ in 0..<3 {
            #expect(
                try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--schema-only"]).status == 0)
        }
        let keepOne = [
            "prune", "--dir", dir, "--keep-last", "1", "--keep-daily", "0", "--keep-weekly", "0", "--keep-monthly", "0",
        ]
        for (syscall, n) in [("rename", 1), ("fsync", 1), ("unlink", 1), ("unlink", 2), ("rename", 2), ("unlink", 3)] {
            let before = try Self.snapshot(dir)
            let killed = try Self.killAtSyscall(syscall, n, keepOne)
            let after = try Self.snapshot(dir)
            // A prune deletes; what it has not deleted is whole, and the newest is never touched.
            let newest = try Self.backups(dir).map(\.path).max()
            let earlier = before.filter { after[$0.key] != nil || $0.key == newest }
            let lost = try Self.checkAfterKill("prune at \(syscall) #\(n)", dir: dir, earlier: earlier, pid: nil)
            Self.record("prune", "\(syscall)#\(n)\(killed ? "" : " (not reached)")", lost: lost)
            #expect(
                try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--schema-only"]).status == 0)
        }
        let target = try #require(Self.backups(dir).first).path
        for (syscall, n) in [("openat", 1), ("write", 1), ("rename", 1)] {
            let before = try Self.snapshot(dir)
            _ = try Self.killAtSyscall(syscall, n, ["pin", target])
            let lost = try Self.checkAfterKill("pin at \(syscall) #\(n)", dir: dir, earlier: before, pid: nil)
            let manifest = try Manifest.load(path: target)
            #expect(manifest.sha256 == before[target], "the pinned manifest is whole")
            Self.record("pin", "\(syscall)#\(n)", lost: lost)
        }
        try Self.checkNextRun("prune and pin", dir: dir)
    }

    /// `list` writing the catalog cache (`DIR/.pgkeep-catalog.<folder>`), killed as it creates and
    /// writes a summary's temporary file, before its rename, and at seeded instants: afterwards a
    /// listing through the cache gives what the manifests give, and the next run removes the
    /// temporary file.
    @Test func listKilledWhileWritingTheCatalogCache() throws {
        let dir = TestServer.tempDir("kpl")
        for _ in 0..<3 {
            #expect(
                try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--schema-only"]).status == 0)
        }
        let list = ["list", "--dir", dir, "--json"]
        func removeSummaries() {
            for name in TestServer.listing(dir) where name.hasPrefix(CatalogCache.prefix) { unlink(dir + "/" + name) }
        }
        usleep(UInt32((CatalogCache.settleSeconds + 0.3) * 1_000_000))  // the folder settles: list writes its summary
        let fromManifests = try TestServer.pgkeep(list).stdout
        #expect(TestServer.listing(dir).contains { $0.hasPrefix(CatalogCache.prefix) }, "list wrote a summary")
        let started = Date()
        removeSummaries()
        _ = try TestServer.pgkeep(list)
        let duration = Date().timeIntervalSince(started)
        // The summary's temporary file just created (its fchmod, the one list makes), and written
        // whole but not renamed; then seeded instants.
        var points: [(String, () throws -> Void)] = [
            ("fchmod#1", { _ = try Self.killAtSyscall("fchmod", 1, list) }),
            ("rename#1", { _ = try Self.killAtSyscall("rename", 1, list) }),
        ]
        for f in Self.fractions("list") {
            points.append(("instant \(String(format: "%.2f", f))", { _ = try Self.killAfter(f * duration, list) }))
        }
        for (point, kill) in points {
            removeSummaries()
            let before = try Self.snapshot(dir)
            let temporary = {
                TestServer.listing(dir).filter { $0.hasPrefix(".pgkeep-tmp-") && $0.contains("-catalog.") }
            }
            let earlierTemporary = temporary().count
            try kill()
            if point.hasSuffix("#1") {
                #expect(temporary().count == earlierTemporary + 1, "list killed at \(point) left its temporary summary")
            }
            let lost = try Self.checkAfterKill("list killed at \(point)", dir: dir, earlier: before, pid: nil)
            // Twice: the first may write the summary, the second reads it.
            for _ in 0..<2 {
                let again = try TestServer.pgkeep(list)
                #expect(again.status == 0 && again.stdout == fromManifests, "list killed at \(point): \(again.stderr)")
            }
            Self.record("list (catalog cache)", point, lost: lost)
        }
        try Self.checkNextRun("list", dir: dir)
    }

    @Test func runAndSnapshotKilledAtSeededInstants() throws {
        for (label, command) in [("run", ["run", "--database", TestServer.pagila]), ("snapshot", ["snapshot"])] {
            let dir = TestServer.tempDir("kpr")
            let base = command + ["--dir", dir]
            let started = Date()
            let first = try TestServer.pgkeep(base)
            #expect(first.status == 0, "\(first.stderr)")
            let full = Date().timeIntervalSince(started)
            for fraction in Self.fractions(label) {
                let earlier = try Self.snapshot(dir)
                let pid = try Self.killAfter(full * fraction, base)
                let lost = try Self.checkAfterKill(
                    "\(label) at \(Int(fraction * 100))%", dir: dir, earlier: earlier, pid: pid)
                Self.record(label, "t=\(Int(fraction * 100))%", lost: lost)
            }
            // The next snapshot (drills and all) succeeds and drops a killed drill's database.
            if label == "snapshot" {
                let next = try TestServer.pgkeep(base)
                #expect(next.status == 0, "\(next.stderr)")
                let left = try TestServer.psql(
                    "postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgkeep\\_drill\\_%'")
                #expect(left == "0", "no scratch database after the next snapshot")
            }
            try Self.checkNextRun(label, dir: dir, all: label == "snapshot")
            _ = try TestServer.pgkeep(["unpin"] + (try TestServer.manifests(dir).map(\.path)))
        }
    }

    /// A drill killed before it dropped its scratch database: the next drill drops it.
    @Test func verifyDrillKilledLeavesNoScratchDatabaseAfterTheNext() throws {
        let dir = TestServer.tempDir("kpv")
        #expect(try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--row-counts"]).status == 0)
        let base = ["verify", "--all", "--dir", dir, "--restore-drill"]
        let started = Date()
        #expect(try TestServer.pgkeep(base).status == 0)
        let full = Date().timeIntervalSince(started)
        for fraction in Self.fractions("verify") {
            let earlier = try Self.snapshot(dir)
            let pid = try Self.killAfter(full * fraction, base)
            let lost = try Self.checkAfterKill(
                "verify at \(Int(fraction * 100))%", dir: dir, earlier: earlier, pid: pid)
            Self.record("verify --restore-drill", "t=\(Int(fraction * 100))%", lost: lost)
            let next = try TestServer.pgkeep(base)
            #expect(next.status == 0, "\(next.stderr)")
            let left = try TestServer.psql(
                "postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgkeep\\_drill\\_%'")
            #expect(left == "0", "no scratch database after the next drill")
        }
    }
}
