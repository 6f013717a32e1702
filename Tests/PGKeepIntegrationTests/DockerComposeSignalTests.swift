import Foundation
import Testing

@testable import PGKeep

/// Whatever ends a run through docker compose, on the real engine, nothing of it stays in the
/// container: within 5 s no process pgkeep started there (pg_dump, psql, pg_restore, dd, its
/// wrapper), no backend with its application_name, no file in the container's /tmp. Each run is
/// caught in the middle on demand: a transaction the test holds locks the table pgkeep needs.
@Suite(.enabled(if: RealDocker.enabled, "needs the Docker Engine Scripts/test.sh starts"), .serialized)
struct DockerComposeSignalTests {
    /// SIGTERM (pgkeep stops everything itself) and SIGKILL (its watchdog does) while pg_dump
    /// waits inside the container: the lock is still held when the container is checked, so
    /// nothing there ended by finishing its work.
    @Test(arguments: [SIGINT, SIGTERM, SIGKILL])
    func backupInterrupted(signal: Int32) throws {
        let project = try RealDocker.project()
        let dir = TestServer.tempDir("dcsig")
        let lock = try TableLock(project, "db", TestServer.pagila, table: "actor")
        defer { lock.release() }
        var during: [String] = []
        var killedAt = Date()
        let run = try TestServer.pgkeep(["backup"] + project.options("db") + ["--dir", dir], env: RealDocker.pgkeepEnv)
        { pid in
            if lock.waitForWaiter(pgkeepPID: pid) { during = project.processes("db", of: pid) }
            killedAt = Date()
            kill(pid, signal)
        }
        #expect(during.contains("pg_dump"), "pg_dump was caught in the container: \(during)")
        #expect(run.status == 128 + signal, "\(run.stderr)")
        #expect(try project.leftoversAfter("db", of: run.pid).isEmpty, "nothing of pgkeep's in the container")
        #expect(Date().timeIntervalSince(killedAt) < 5.5)
        #expect(try TestServer.manifests(dir).isEmpty, "no backup recorded")
    }

    /// A restore over an existing database (--clean) waits on the DROP of a locked table, in one
    /// transaction (psql) or with --jobs (pg_restore reading the copy in the container's /tmp):
    /// after the signal nothing of it is left, and the target is as it was.
    @Test(arguments: [SIGTERM, SIGKILL], [false, true])
    func restoreInterrupted(signal: Int32, jobs: Bool) throws {
        let project = try RealDocker.project()
        let dir = TestServer.tempDir("dcrsig")
        #expect(try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir]).status == 0)
        let file = try #require(try TestServer.manifests(dir).first).path
        let target = TestServer.uniqueName("dc_rsig")
        try project.load("db", target, from: TestServer.pagila)
        defer { project.dropDatabase("db", target) }
        var lock = try TableLock(project, "db", target, table: "actor")
        defer { lock.release() }
        var during: [String] = []
        var stuck = ""
        var run: TestServer.Run
        var attempt = 0
        // The kill must come while the restore waits on the lock. Twice in CI the test's own poll
        // (docker exec psql) did not see the waiter for a minute under load although the restore
        // was there: then that attempt says what it saw and the scenario runs once more.
        repeat {
            attempt += 1
            run = try TestServer.pgkeep(
                ["restore", file] + project.options("db") + ["-d", target, "--clean", "--yes"]
                    + (jobs ? ["--jobs", "2"] : []), env: RealDocker.pgkeepEnv
            ) { pid in
                if lock.waitForWaiter(pgkeepPID: pid) {
                    during = project.processes("db", of: pid)
                } else {
                    // Where it was instead: its processes in the container and its sessions.
                    stuck =
                        "processes \(project.processes("db", of: pid)); sessions: "
                        + ((try? project.psql(
                            "db", "postgres",
                            "SELECT state || ' ' || coalesce(wait_event_type, '') || ' ' || left(query, 60) "
                                + "FROM pg_stat_activity WHERE \(TestServer.appName(pid))", pollTimeout: 10)) ?? "?")
                }
                kill(pid, signal)
            }
            if during.isEmpty && attempt == 1 {
                print(
                    "restoreInterrupted(\(signal), jobs \(jobs)): no lock waiter seen in 60 s (attempt 1): \(stuck); "
                        + "pgkeep said: \(run.stderr)")
                lock.release()
                lock = try TableLock(project, "db", target, table: "actor")
            }
        } while during.isEmpty && attempt < 2
        #expect(during.contains(jobs ? "pg_restore" : "psql"), "caught mid-restore: \(during)")
        #expect(run.status == 128 + signal, "\(run.stderr)")
        #expect(try project.leftoversAfter("db", of: run.pid).isEmpty, "nothing left, the copy in /tmp included")
        lock.release()
        #expect(try project.rowCounts("db", target) == TestServer.rowCounts(TestServer.pagila), "target unchanged")
    }

    /// pgkeep and its watchdog both SIGKILLed (nothing of the run can clean up): pg_dump runs on
    /// in the container, as docker exec leaves it. The next pgkeep run on the service ends it,
    /// its backend and its files.
    @Test func aRunThatDiedWholeIsSweptByTheNext() throws {
        let project = try RealDocker.project()
        let lock = try TableLock(project, "db", TestServer.pagila, table: "actor")
        defer { lock.release() }
        var watchdogs: [Int32] = []
        let dead = try TestServer.pgkeep(
            ["backup"] + project.options("db") + ["--dir", TestServer.tempDir("dcdead")], env: RealDocker.pgkeepEnv
        ) { pid in
            _ = lock.waitForWaiter(pgkeepPID: pid)
            watchdogs = ProcScan.children(of: pid).filter {
                ProcScan.read($0, "cmdline").map { String(decoding: $0, as: UTF8.self).contains("last=dirty") } ?? false
            }
            for w in watchdogs { kill(w, SIGKILL) }
            kill(pid, SIGKILL)
        }
        #expect(dead.status == 128 + SIGKILL)
        #expect(watchdogs.count == 1, "pgkeep's watchdog was found")
        Thread.sleep(forTimeInterval: 1)
        let orphaned = try project.leftovers("db", of: dead.pid)
        #expect(orphaned.contains("pg_dump"), "without a sweep pg_dump runs on: \(orphaned)")
        let next = try TestServer.pgkeep(
            ["backup"] + project.options("db") + ["-d", "postgres", "--dir", TestServer.tempDir("dcnext")],
            env: RealDocker.pgkeepEnv)
        #expect(next.status == 0, "\(next.stderr)")
        #expect(try project.leftovers("db", of: dead.pid).isEmpty, "the next run swept the dead one")
        #expect(try project.leftovers("db", of: next.pid).isEmpty)
    }

    /// docker compose itself dies (its client's process group SIGKILLed) while pg_dump waits:
    /// pgkeep fails, records nothing, and nothing stays in the container.
    @Test func composeClientDying() throws {
        let project = try RealDocker.project()
        let dir = TestServer.tempDir("dcclient")
        let lock = try TableLock(project, "db", TestServer.pagila, table: "actor")
        defer { lock.release() }
        var clients: [Int32] = []
        let run = try TestServer.pgkeep(["backup"] + project.options("db") + ["--dir", dir], env: RealDocker.pgkeepEnv)
        { pid in
            _ = lock.waitForWaiter(pgkeepPID: pid)
            clients = ProcScan.children(of: pid).filter {
                ProcScan.read($0, "cmdline").map {
                    String(decoding: $0, as: UTF8.self).contains("pg_dump\0--no-password")
                }
                    ?? false
            }
            for c in clients { killpg(c, SIGKILL) }
        }
        #expect(clients.count == 1, "the compose client running pg_dump was found")
        #expect(run.status != 0 && run.status < 128, "\(run.status): \(run.stderr)")
        #expect(try project.leftoversAfter("db", of: run.pid).isEmpty)
        #expect(try TestServer.manifests(dir).isEmpty)
    }

    /// The container restarts under a backup: the backup fails, nothing is recorded, and once the
    /// service is back nothing of the run is left there (its markers survive a restart).
    @Test func containerRestartedMidBackup() throws {
        let project = try RealDocker.project()
        let dir = TestServer.tempDir("dcrestart")
        let lock = try TableLock(project, "db", TestServer.pagila, table: "actor")
        defer { lock.release() }
        let run = try TestServer.pgkeep(["backup"] + project.options("db") + ["--dir", dir], env: RealDocker.pgkeepEnv)
        { pid in
            _ = lock.waitForWaiter(pgkeepPID: pid)
            _ = try? RealDocker.docker(["restart", "-t", "5", project.container("db")])
        }
        #expect(run.status != 0, "\(run.stderr)")
        #expect(try TestServer.manifests(dir).isEmpty)
        try project.waitReady("db")
        #expect(try project.leftoversAfter("db", of: run.pid).isEmpty)
    }

    /// The kill-point sample through compose: SIGKILL at seeded instants of a backup (fractions of
    /// its uninterrupted run time, as `KillPointTests`). After each, nothing of it stays in the
    /// container and every backup recorded is whole; the next run succeeds.
    @Test func killPointSample() throws {
        let project = try RealDocker.project()
        let dir = TestServer.tempDir("dckp")
        let args = ["backup"] + project.options("db") + ["--dir", dir]
        let started = Date()
        #expect(try TestServer.pgkeep(args, env: RealDocker.pgkeepEnv).status == 0)
        let duration = Date().timeIntervalSince(started)
        for fraction in KillPointTests.fractions("compose backup") {
            let pid = try KillPointTests.killAfter(fraction * duration, args, env: RealDocker.pgkeepEnv)
            #expect(try project.leftoversAfter("db", of: pid).isEmpty, "killed at \(fraction) of \(duration) s")
            for (path, manifest) in try KillPointTests.backups(dir) {
                let data = (path as NSString).deletingLastPathComponent + "/" + manifest.file
                #expect(try TestServer.sha256sum(data) == manifest.sha256, "\(path) is whole")
            }
        }
        let next = try TestServer.pgkeep(args, env: RealDocker.pgkeepEnv)
        #expect(next.status == 0, "\(next.stderr)")
        #expect(try project.leftovers("db", of: next.pid).isEmpty)
    }

    /// The same for a --jobs restore through the service, killed at seeded instants (copying the
    /// archive in with dd, or restoring): nothing of it stays, the partial copy in /tmp included.
    @Test func restoreKillPointSample() throws {
        let project = try RealDocker.project()
        let dir = TestServer.tempDir("dcrkp")
        #expect(try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir]).status == 0)
        let file = try #require(try TestServer.manifests(dir).first).path
        let args = { (db: String) in ["restore", file] + project.options("db") + ["-d", db, "--create", "--jobs", "2"] }
        let whole = TestServer.uniqueName("dc_rkp")
        defer { project.dropDatabase("db", whole) }
        let started = Date()
        #expect(try TestServer.pgkeep(args(whole), env: RealDocker.pgkeepEnv).status == 0)
        let duration = Date().timeIntervalSince(started)
        for fraction in KillPointTests.fractions("compose restore") {
            let target = TestServer.uniqueName("dc_rkp")
            defer { project.dropDatabase("db", target) }
            let pid = try KillPointTests.killAfter(fraction * duration, args(target), env: RealDocker.pgkeepEnv)
            #expect(try project.leftoversAfter("db", of: pid).isEmpty, "killed at \(fraction) of \(duration) s")
        }
    }

    @Test func aServiceThatDoesNotExist() throws {
        let project = try RealDocker.project()
        let dir = TestServer.tempDir("dcnone") + "/b"
        let run = try TestServer.pgkeep(
            ["backup"] + project.options("web") + ["--dir", dir], env: RealDocker.pgkeepEnv)
        #expect(run.status == ExitCodes.preflight, "\(run.stderr)")
        #expect(run.stderr.contains("docker compose service \"web\""), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir))
    }

    /// A container whose PostgreSQL is not running: a preflight error that says so, and nothing
    /// of pgkeep's left in it.
    @Test func aServiceWhosePostgreSQLIsDown() throws {
        let project = try RealDocker.project()
        let dir = TestServer.tempDir("dcdown") + "/b"
        let run = try TestServer.pgkeep(
            ["backup"] + project.options("nopg") + ["--dir", dir], env: RealDocker.pgkeepEnv)
        #expect(run.status == ExitCodes.preflight, "\(run.stderr)")
        #expect(run.stderr.contains("cannot connect"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir))
        let deadline = Date().addingTimeInterval(5)
        var left = project.processes("nopg", of: run.pid) + (try project.leftFiles("nopg"))
        while !left.isEmpty && Date() < deadline {
            usleep(100_000)
            left = project.processes("nopg", of: run.pid) + (try project.leftFiles("nopg"))
        }
        #expect(left.isEmpty, "\(left)")
    }
}
