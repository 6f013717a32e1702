import Foundation
import Testing

@testable import PGKeep

/// The cron job and what surrounds it: run, the lock, signals, status, snapshot, verify and its
/// drill, schedule, config check, hooks and quiet output, against the real server.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"))
struct OperationsTests {
    /// Holds ACCESS EXCLUSIVE on a table in an open transaction, so that a pg_dump of its
    /// database waits (a dump that takes as long as the test wants).
    final class TableLock {
        let conn: PostgresConnection
        init(database: String, table: String) throws {
            conn = try PostgresConnection(
                spec: ConnectionSpec(parameters: [
                    "host": TestServer.socketDir, "port": TestServer.port, "user": "postgres", "dbname": database,
                ]))
            // pgkeep's own sessions (this one too) search pg_catalog only: name the schema.
            _ = try conn.query("BEGIN; LOCK TABLE public.\(table) IN ACCESS EXCLUSIVE MODE")
        }
        func release() { _ = try? conn.query("ROLLBACK") }
    }

    /// Backends whose application_name is pgkeep's for `pid` (every child of that run).
    static func backends(of pid: Int32, waiting: Bool = false) -> [String] {
        let sql =
            "SELECT pid::text FROM pg_stat_activity WHERE \(TestServer.appName(pid))"
            + (waiting ? " AND wait_event_type = 'Lock'" : "")
        return ((try? TestServer.psql("postgres", sql)) ?? "").split(separator: "\n").map(String.init)
    }

    static func waitFor(_ seconds: TimeInterval = 30, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    static func children(of pid: Int32) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let p = Int32(entry), let stat = FileManager.default.contents(atPath: "/proc/\(entry)/stat") else {
                return nil
            }
            let text = String(decoding: stat, as: UTF8.self)
            guard let close = text.lastIndex(of: ")") else { return nil }
            let fields = text[text.index(close, offsetBy: 2)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid ? p : nil
        }
    }

    @Test func aSecondRunIsLockedOutAtOnceAndWritesNothing() throws {
        let dir = TestServer.tempDir("runlock")
        let lock = try TableLock(database: TestServer.pagila, table: "film")
        var firstPid: Int32 = 0
        var second: TestServer.Run?
        var secondSeconds: TimeInterval = 0
        var listingBefore: [String] = []
        var listingAfter: [String] = []
        let first = try TestServer.pgkeep(["run", "--dir", dir, "--database", TestServer.pagila, "--quiet"]) { pid in
            firstPid = pid
            // The first run is dumping (its pg_dump waits for the table lock).
            #expect(
                Self.waitFor { !Self.backends(of: pid, waiting: true).isEmpty }, "the first run's pg_dump is waiting")
            listingBefore = TestServer.listing(dir)
            let started = Date()
            second = try? TestServer.pgkeep(["run", "--dir", dir, "--database", TestServer.pagila, "--quiet"])
            secondSeconds = Date().timeIntervalSince(started)
            listingAfter = TestServer.listing(dir)
            lock.release()
        }
        lock.release()
        #expect(firstPid > 0)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.isEmpty && first.stdout.isEmpty, "quiet on success: \(first.stderr)")
        let s = try #require(second)
        #expect(s.status == ExitCodes.locked, "\(s.stderr)")
        #expect(s.stderr.contains("another pgkeep run holds"), "\(s.stderr)")
        #expect(secondSeconds < 10, "locked out in \(secondSeconds) s, not after the first run")
        #expect(listingAfter == listingBefore, "the second run wrote nothing")
        #expect(try TestServer.manifests(dir).count == 1)
    }

    @Test func aRunKilledWithSIGKILLDoesNotBlockTheNext() throws {
        let dir = TestServer.tempDir("kill9")
        let lock = try TableLock(database: TestServer.pagila, table: "film")
        let killed = try TestServer.pgkeep(["run", "--dir", dir, "--database", TestServer.pagila]) { pid in
            #expect(Self.waitFor { !Self.backends(of: pid, waiting: true).isEmpty })
            kill(pid, SIGKILL)
        }
        lock.release()
        #expect(killed.status == 9 || killed.status == 128 + 9, "killed: \(killed.status)")
        let next = try TestServer.pgkeep(["run", "--dir", dir, "--database", TestServer.pagila])
        #expect(next.status == 0, "\(next.stderr)")
        #expect(try TestServer.manifests(dir).count == 1, "only the next run's backup counts")
        let status = try TestServer.pgkeep(["status", "--dir", dir, "--max-age", "1h"])
        #expect(status.status == 0, "\(status.stderr)")
    }

    /// The real pg_dump (which cancels its own query on SIGTERM), and one that dies by SIGKILL
    /// and leaves its backend waiting on the lock unless pgkeep ends it.
    @Test(arguments: [false, true])
    func sigtermStopsEveryChildAndBackend(hardKilledDump: Bool) throws {
        let dir = TestServer.tempDir("term")
        var args = ["backup", "-d", TestServer.pagila, "--dir", dir]
        if hardKilledDump {
            args += [
                "--pg-bin",
                try TestServer.fakeToolDir(
                    pgDump: "\"$REAL\" \"$@\" & child=$!; trap 'kill -KILL $child; exit 143' TERM; wait $child"),
            ]
        }
        let lock = try TableLock(database: TestServer.pagila, table: "film")
        defer { lock.release() }
        var pgkeepPid: Int32 = 0
        var children: [Int32] = []
        let run = try TestServer.pgkeep(args) { pid in
            pgkeepPid = pid
            #expect(Self.waitFor { !Self.backends(of: pid, waiting: true).isEmpty }, "pg_dump waits for the lock")
            children = Self.children(of: pid)
            kill(pid, SIGTERM)
        }
        #expect(run.status == 143, "\(run.stderr)")
        #expect(!children.isEmpty)
        for child in children { #expect(!TestServer.alive(child), "child \(child) was stopped") }
        #expect(Self.backends(of: pgkeepPid).isEmpty, "no backend of the run stays in pg_stat_activity")
        #expect(
            TestServer.listing(dir).filter { $0.contains(".pgkeep-tmp-") || $0.hasSuffix(".gz") }.isEmpty,
            "\(TestServer.listing(dir))")
    }

    @Test func statusFailsWhenStaleAndPassesAfterABackup() throws {
        let dir = TestServer.tempDir("status")
        let empty = try TestServer.pgkeep(["status", "--dir", dir, "--max-age", "26h"])
        #expect(empty.status == ExitCodes.failure, "no backups at all is not healthy")
        let b = try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--schema-only"])
        #expect(b.status == 0, "\(b.stderr)")
        // Time moved on, without waiting: the clock injected into the check, and the backup
        // moved a day into the past for the command.
        let later = try StatusCheck(directory: dir, databases: nil, maxAge: 3600).run(
            now: Date().addingTimeInterval(7200))
        #expect(!later.ok && later.entries.map(\.fresh) == [false])
        #expect(try StatusCheck(directory: dir, databases: nil, maxAge: 3600).run().ok)
        try ShrinkGuardTests.backdate(dir, TestServer.pagila, daysAgo: 1)
        let stale = try TestServer.pgkeep(["status", "--dir", dir, "--max-age", "2h", "--json"])
        #expect(stale.status == ExitCodes.failure)
        #expect(stale.stderr.contains("STALE: \(TestServer.pagila)"), "\(stale.stderr)")
        #expect(stale.stdout.contains("\"fresh\" : false"), "\(stale.stdout)")
        let again = try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--schema-only"])
        #expect(again.status == 0)
        let fresh = try TestServer.pgkeep(["status", "--dir", dir, "--max-age", "2h"])
        #expect(fresh.status == 0, "\(fresh.stderr)")
        // A configured database without any backup is stale too.
        let missing = try TestServer.pgkeep([
            "status", "--dir", dir, "--max-age", "1h", "--database", TestServer.pagila, "--database", "never_backed_up",
        ])
        #expect(missing.status == ExitCodes.failure)
        #expect(missing.stdout.contains("STALE (no backup)"), "\(missing.stdout)")
    }

    @Test func snapshotPinsDrillsAndPrintsRestoreCommands() throws {
        let dir = TestServer.tempDir("snap")
        let snap = try TestServer.pgkeep(["snapshot", "--label", "pre-upgrade", "--dir", dir])
        #expect(snap.status == 0, "\(snap.stderr)")
        #expect(snap.stderr.contains("drill ok: \(TestServer.pagila)"), "\(snap.stderr)")
        #expect(snap.stdout.contains("pgkeep restore "), "\(snap.stdout)")
        #expect(snap.stdout.contains("| psql -X -d \"$NEW/postgres\""), "the globals first")
        let manifests = try TestServer.manifests(dir)
        #expect(manifests.contains { $0.manifest.format == .globals })
        #expect(
            manifests.allSatisfy {
                $0.manifest.pinned && $0.manifest.label == "pre-upgrade" && !$0.manifest.serverVersion.isEmpty
            })
        #expect(
            try TestServer.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgkeep_drill_%'")
                == "0")
        // A later backup and a prune that keeps only the newest: the snapshot survives.
        _ = try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--schema-only"])
        let prune = try TestServer.pgkeep([
            "prune", "--dir", dir, "--keep-last", "1", "--keep-daily", "0", "--keep-weekly", "0", "--keep-monthly", "0",
        ])
        #expect(prune.status == 0, "\(prune.stderr)")
        for (path, m) in manifests {
            #expect(FileManager.default.fileExists(atPath: path))
            #expect(FileManager.default.fileExists(atPath: (path as NSString).deletingLastPathComponent + "/" + m.file))
        }
        // The printed stock command restores the database (here into a new name on the same server).
        let target = TestServer.uniqueName("fromsnap")
        defer { TestServer.dropDatabase(target) }
        try TestServer.createDatabase(target)
        let file = try #require(manifests.first { $0.manifest.database == TestServer.pagila }).path
            .replacingOccurrences(of: ".manifest.json", with: "")
        _ = try TestServer.shell("gunzip -c '\(file)' | \(TestServer.pgBin)/pg_restore --exit-on-error -d \(target)")
        #expect(try TestServer.rowCounts(target) == TestServer.rowCounts(TestServer.pagila))
    }

    @Test func verifyReadsEverythingAndTheDrillCleansUpAfterItself() throws {
        let dir = TestServer.tempDir("verify")
        let b = try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--row-counts"])
        #expect(b.status == 0, "\(b.stderr)")
        // An uncompressed SQL backup is read to its end too (no gzip layer to go through).
        let plain = try TestServer.pgkeep([
            "backup", "-d", TestServer.pagila, "--dir", dir, "--format", "plain", "--no-compress",
        ])
        #expect(plain.status == 0, "\(plain.stderr)")
        let zstd = try TestServer.pgkeep([
            "backup", "-d", TestServer.pagila, "--dir", dir, "--format", "plain", "--compress", "zstd:5",
            "--row-counts",
        ])
        #expect(zstd.status == 0, "\(zstd.stderr)")
        let ok = try TestServer.pgkeep(["verify", "--all", "--dir", dir, "--restore-drill"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stderr.contains("row counts match the manifest"), "\(ok.stderr)")
        #expect(ok.stderr.contains("zstd stream read to its end"), "\(ok.stderr)")
        #expect(ok.stderr.contains("all 3 backups are fine"), "\(ok.stderr)")

        // A stock dump with a damaged data block: sha256 has nothing to compare with, but reading
        // it to the end fails, and no scratch database is left.
        let stock = TestServer.tempDir("stock") + "/pagila.dump"
        _ = try TestServer.shell("\(TestServer.pgBin)/pg_dump -Fc -d \(TestServer.pagila) -f '\(stock)'")
        let size = (try FileManager.default.attributesOfItem(atPath: stock)[.size] as! NSNumber).intValue
        let h = try #require(FileHandle(forUpdatingAtPath: stock))
        try h.seek(toOffset: UInt64(size / 2))
        try h.write(contentsOf: Data(repeating: 0x55, count: 4096))
        try h.close()
        let damaged = try TestServer.pgkeep(["verify", stock, "--restore-drill"])
        #expect(damaged.status == ExitCodes.failure)
        #expect(damaged.stderr.contains("is damaged"), "\(damaged.stderr)")

        // An archive that reads fine but does not restore (its owner role is gone): the drill
        // fails and drops its scratch database.
        let role = TestServer.uniqueName("gone")
        let db = TestServer.uniqueName("owned")
        _ = try TestServer.psql("postgres", "CREATE ROLE \(role)")
        try TestServer.createDatabase(db)
        defer {
            TestServer.dropDatabase(db)
            _ = try? TestServer.psql("postgres", "DROP ROLE IF EXISTS \(role)")
        }
        _ = try TestServer.psql(
            db, "CREATE TABLE t AS SELECT g AS x FROM generate_series(1, 100) g; ALTER TABLE t OWNER TO \(role)")
        let owned = try TestServer.pgkeep(["backup", "-d", db, "--dir", dir])
        #expect(owned.status == 0, "\(owned.stderr)")
        _ = try TestServer.psql(db, "DROP TABLE t")
        _ = try TestServer.psql("postgres", "DROP ROLE \(role)")
        let drill = try TestServer.pgkeep(["verify", "--all", "--dir", dir, "--database", db, "--restore-drill"])
        #expect(drill.status == ExitCodes.failure)
        #expect(drill.stderr.contains("restore drill of"), "\(drill.stderr)")
        #expect(drill.stderr.contains("role \"\(role)\" does not exist"), "\(drill.stderr)")
        #expect(
            try TestServer.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgkeep_drill_%'")
                == "0")
    }

    /// A read-only copy of a backup directory (a mounted snapshot, without the lock file): restore
    /// and verify read it without needing to write a lock.
    @Test func restoreAndVerifyFromAReadOnlyCopy() throws {
        let dir = TestServer.tempDir("rosrc")
        let b = try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--schema-only"])
        #expect(b.status == 0, "\(b.stderr)")
        try FileManager.default.removeItem(atPath: dir + "/.pgkeep.lock")
        let ro = TestServer.tempDir("ro")
        let bind = try TestServer.run(
            "/bin/sh", ["-c", "mount --bind '\(dir)' '\(ro)' && mount -o remount,bind,ro '\(ro)'"])
        try #require(bind.status == 0, "a read-only bind mount needs root: \(bind.stderr)")
        defer { _ = try? TestServer.run("/bin/umount", ["-l", ro]) }
        let verify = try TestServer.pgkeep(["verify", "--all", "--dir", ro])
        #expect(verify.status == 0, "\(verify.stderr)")
        let target = TestServer.uniqueName("fromro")
        defer { TestServer.dropDatabase(target) }
        let restore = try TestServer.pgkeep([
            "restore", "--latest", "--database", TestServer.pagila, "--dir", ro, "--dbname", target, "--create",
        ])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/.pgkeep.lock"))
    }

    /// A config file as a cron job would use it: connection fields, a password file, pg_bin.
    func writeConfig(dir: String, extra: String = "") throws -> String {
        let pw = dir + "/pgpassword"
        try FileSystem.writePrivateFile(pw, data: Data((TestServer.password + "\n").utf8))
        let config = dir + "/pgkeep.toml"
        try FileSystem.writePrivateFile(
            config,
            data: Data(
                """
                [connection]
                host = "\(TestServer.host)"
                port = \(TestServer.port)
                user = "postgres"
                password_file = "pgpassword"
                pg_bin = "\(TestServer.pgBin)"

                [backup]
                dir = "backups"
                databases = ["\(TestServer.pagila)"]

                [retention]
                keep_daily = 3
                \(extra)
                """.utf8))
        return config
    }

    @Test func theScheduledCrontabLineRunsSilentlyUnderCron() throws {
        let dir = TestServer.tempDir("cron")
        let config = try writeConfig(dir: dir)
        let check = try TestServer.pgkeep(["config", "check", config])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("password_file"), "\(check.stdout)")
        #expect(!check.stdout.contains(TestServer.password) && !check.stderr.contains(TestServer.password))

        let schedule = try TestServer.pgkeep([
            "schedule", "--cron", "0 2 * * *", "--config", config, "--log-file", dir + "/pgkeep.log",
        ])
        #expect(schedule.status == 0, "\(schedule.stderr)")
        let line = schedule.stdout.trimmingCharacters(in: .newlines)
        #expect(line.hasPrefix("0 2 * * * " + TestServer.binary + " run --config "), "\(line)")
        // What cron does with the line: drop the five time fields, undo \%, run it with sh -c in
        // cron's environment (PATH=/usr/bin:/bin, no HOME, no terminal).
        let command = line.split(separator: " ", maxSplits: 5).last.map(String.init)!.replacingOccurrences(
            of: "\\%", with: "%")
        let cron = try TestServer.run(
            "/bin/sh", ["-c", command], env: ["PATH": "/usr/bin:/bin", "SHELL": "/bin/sh", "LOGNAME": "root"])
        #expect(cron.status == 0, "\(cron.stderr)")
        #expect(cron.stdout.isEmpty && cron.stderr.isEmpty, "prints nothing: \(cron.stdout)\(cron.stderr)")
        let backups = try TestServer.manifests(dir + "/backups")
        #expect(backups.count == 1)
        let log = String(decoding: FileManager.default.contents(atPath: dir + "/pgkeep.log") ?? Data(), as: UTF8.self)
        #expect(log.contains("run finished: 1 backed up and verified"), "\(log)")
        #expect(
            log.split(separator: "\n").allSatisfy {
                $0.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ pgkeep\[\d+\]: "#, options: .regularExpression) != nil
            }, "\(log)")
        var st = stat()
        stat(dir + "/pgkeep.log", &st)
        #expect(st.st_mode & 0o777 == 0o600)
    }

    @Test func configCheckRejectsAnUnknownKeyNamingItsLine() throws {
        let dir = TestServer.tempDir("cfg")
        let config = try writeConfig(dir: dir, extra: "keep_dayly = 5\n")
        let check = try TestServer.pgkeep(["config", "check", config])
        #expect(check.status == ExitCodes.usage)
        #expect(check.stderr.contains("pgkeep.toml:14: retention.keep_dayly: unknown key"), "\(check.stderr)")
        let run = try TestServer.pgkeep(["run", "--config", config])
        #expect(run.status == ExitCodes.usage, "a run refuses a bad config before doing anything")
        #expect(!FileManager.default.fileExists(atPath: dir + "/backups"))
    }

    @Test func hooksHearOfSuccessAndFailureAndTheRunGoesOnAfterAFailure() throws {
        let dir = TestServer.tempDir("hooks")
        let config = try writeConfig(dir: dir)
        let script = dir + "/hook.sh"
        try FileSystem.writePrivateFile(
            script,
            data: Data(
                ("#!/bin/sh\nenv | grep -E '^(PGKEEP_|PGPASS)' | sort > "
                    + "\"$1/hook-$PGKEEP_STATUS-$PGKEEP_DATABASE.env\"\n").utf8))
        chmod(script, 0o700)
        var env = TestServer.connectionEnv
        for k in ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD"] { env[k] = nil }
        let run = try TestServer.pgkeep(
            [
                "run", "--config", config, "--database", TestServer.pagila, "--database", "no_such_db",
                "--on-success", "\(script) \(dir)", "--on-failure", "\(script) \(dir)", "--quiet",
            ], env: env)
        #expect(run.status == ExitCodes.failure)
        // Quiet, and loud on failure: one block that says what failed and what to do.
        #expect(run.stderr.hasPrefix("pgkeep: run FAILED: 1 of 2 failed, 1 backed up and verified"), "\(run.stderr)")
        #expect(run.stderr.contains("no_such_db") && run.stderr.contains("what to do:"), "\(run.stderr)")
        #expect(!run.stderr.contains(TestServer.password))
        #expect(try TestServer.manifests(dir + "/backups").count == 1, "the other database was backed up")
        let success = String(
            decoding: FileManager.default.contents(atPath: dir + "/hook-success-\(TestServer.pagila).env") ?? Data(),
            as: UTF8.self)
        #expect(success.contains("PGKEEP_STATUS=success"))
        #expect(success.contains("PGKEEP_BACKUP_PATH=\(dir)/backups/\(TestServer.pagila)/"), "\(success)")
        #expect(success.contains("PGKEEP_ERROR=\n"))
        let failure = String(
            decoding: FileManager.default.contents(atPath: dir + "/hook-failure-no_such_db.env") ?? Data(),
            as: UTF8.self)
        #expect(failure.contains("PGKEEP_ERROR=") && failure.contains("does not exist"), "\(failure)")
        for text in [success, failure] {
            #expect(!text.contains("PGPASS") && !text.contains(TestServer.password), "no password anywhere: \(text)")
        }
    }
}
