import Foundation
import Testing

@testable import PGKeep

/// A server that restarts or crashes under pgkeep: a throwaway cluster of the test's own
/// (Scripts/pg-server.sh), restarted with `pg_ctl restart` or its postmaster killed while pgkeep
/// restores into it. The restore fails naming the cause, the database it created is dropped
/// once the server is back (it said "left as it was" and left an empty database before), a drill
/// says it could not run instead of blaming the backup, and the next run succeeds.
@Suite(.enabled(if: TestServer.enabled && geteuid() == 0, "needs the server and root (runuser)"), .serialized)
struct ServerRestartTests {
    /// A cluster on its own port, stopped and deleted by `stop()`.
    final class Cluster {
        let dir = TestServer.tempDir("restart-cluster")
        let port = TestServer.freePort()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Scripts/pg-server.sh").path

        init() throws {
            let r = try TestServer.run("/bin/bash", [script, "start", dir + "/pg", port, TestServer.password])
            guard r.status == 0 else { throw PGKeepError(.backup, "cannot start a cluster: \(r.stderr)") }
        }

        var bin: String { "/usr/lib/postgresql/15/bin" }

        func uri(_ db: String) -> String { "postgresql://postgres@127.0.0.1:\(port)/\(db)" }

        func psql(_ sql: String) throws -> String {
            let r = try TestServer.run(
                TestServer.pgBin + "/psql", ["-X", "-At", "-h", dir + "/pg", "-p", port, "-d", "postgres", "-c", sql])
            return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func pgCtl(_ args: [String]) {
            _ = try? TestServer.run(
                "/usr/sbin/runuser", ["-u", "postgres", "--", bin + "/pg_ctl", "-D", dir + "/pg/data"] + args)
        }

        /// Waits until a session of the pgkeep process `pid` runs a COPY (the data phase).
        func waitForCopy(by pid: Int32) -> Bool {
            for _ in 0..<300 {
                let n =
                    (try? psql(
                        "SELECT count(*) FROM pg_stat_activity WHERE \(TestServer.appName(pid)) "
                            + "AND query LIKE 'COPY %'")) ?? "0"
                if n != "0" && !n.isEmpty { return true }
                Thread.sleep(forTimeInterval: 0.05)
            }
            return false
        }

        func killPostmaster() {
            let pidFile = (try? String(contentsOfFile: dir + "/pg/data/postmaster.pid", encoding: .utf8)) ?? ""
            if let pid = pidFile.split(separator: "\n").first.flatMap({ Int32($0) }) { kill(pid, SIGKILL) }
        }

        func databases(like prefix: String) throws -> String {
            try psql("SELECT count(*) FROM pg_database WHERE datname LIKE '\(prefix)%'")
        }

        func stop() { _ = try? TestServer.run("/bin/bash", [script, "stop", dir + "/pg"]) }
    }

    @Test func restartMidCreateDropsWhatItCreated() throws {
        let cluster = try Cluster()
        defer { cluster.stop() }
        let path = try HostileWorld.backup(of: AtomicRestoreTests.source, ["--row-counts"])
        let sawCopy = Locked(false)
        let (run, seconds) = try HostileWorld.timed(
            ["restore", path, "-d", cluster.uri("restarted"), "--create"],
            whileRunning: { pid in
                sawCopy.withLock { $0 = cluster.waitForCopy(by: pid) }
                // -l: the new postmaster must not hold this test's pipe open.
                cluster.pgCtl(["restart", "-m", "fast", "-w", "-l", cluster.dir + "/pg/server.log"])
            })
        try #require(sawCopy.current, "the restore never reached its data phase")
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.stderr.contains("terminating connection") || run.stderr.contains("server closed"), "\(run.stderr)")
        #expect(run.stderr.contains("this restore created was dropped again"), "\(run.stderr)")
        #expect(seconds < 60)
        #expect(try cluster.databases(like: "restarted") == "0")
        let next = try TestServer.pgkeep(["restore", path, "-d", cluster.uri("restarted"), "--create", "--verify"])
        #expect(next.status == 0, "\(next.stderr)")
    }

    @Test func restartMidCopyDropsTheUnfinishedCopy() throws {
        let cluster = try Cluster()
        defer { cluster.stop() }
        let args = ["copy", "--from", HostileWorld.uri(AtomicRestoreTests.source), "--to", cluster.uri("copied")]
        let sawCopy = Locked(false)
        let (run, seconds) = try HostileWorld.timed(
            args, env: CopyTestSupport.env,
            whileRunning: { pid in
                sawCopy.withLock { $0 = cluster.waitForCopy(by: pid) }
                cluster.pgCtl(["restart", "-m", "fast", "-w", "-l", cluster.dir + "/pg/server.log"])
            })
        try #require(sawCopy.current, "the copy never reached its data phase")
        #expect(run.status != 0, "\(run.stderr)")
        #expect(run.stderr.contains("was dropped; the target is as it was"), "\(run.stderr)")
        #expect(seconds < 90)
        #expect(try cluster.databases(like: "pgkeep_copy_") == "0")
        #expect(try cluster.databases(like: "copied") == "0")
        let next = try TestServer.pgkeep(args, env: CopyTestSupport.env)
        #expect(next.status == 0, "\(next.stderr)")
    }

    /// The postmaster killed mid-drill and the server started again two seconds later (what a
    /// service manager does): the drill could not run (exit 4), the backup is not blamed, no
    /// scratch database stays, and the next drill passes.
    @Test func crashMidDrillDoesNotBlameTheBackup() throws {
        let cluster = try Cluster()
        defer { cluster.stop() }
        let path = try HostileWorld.backup(of: AtomicRestoreTests.source, ["--row-counts"])
        let (run, _) = try HostileWorld.timed(
            ["verify", path, "--restore-drill", "--drill-dbname", cluster.uri("postgres")],
            whileRunning: { pid in
                _ = cluster.waitForCopy(by: pid)
                cluster.killPostmaster()
                Thread.sleep(forTimeInterval: 2)
                cluster.pgCtl(["start", "-w", "-l", cluster.dir + "/pg/server.log"])
            })
        #expect(run.status == ExitCodes.unchecked, "\(run.stderr)")
        #expect(
            run.stderr.contains("could not run") && run.stderr.contains("says nothing about the backup"),
            "\(run.stderr)")
        #expect(!run.stderr.contains("keep an earlier one"), "\(run.stderr)")
        #expect(try cluster.databases(like: "pgkeep_drill_") == "0")
        let next = try TestServer.pgkeep(["verify", path, "--restore-drill", "--drill-dbname", cluster.uri("postgres")])
        #expect(next.status == 0, "\(next.stderr)")
    }
}
