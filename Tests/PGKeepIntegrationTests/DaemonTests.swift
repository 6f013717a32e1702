import Foundation
import Testing

@testable import PGKeep

/// `pgkeep daemon` against the real server, configured by environment variables only (no file):
/// it catches up once on start, logs one line per event, and SIGTERM in the middle of a run ends
/// the run cleanly (no partial backup, no child and no session left) and the daemon with 143
/// within docker's 10 s grace.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"), .serialized)
struct DaemonTests {
    static func env(_ dir: String, database: String, cron: String) -> [String: String] {
        var e = TestServer.connectionEnv
        e["PGKEEP_BACKUP_DIR"] = dir
        e["PGKEEP_BACKUP_DATABASES"] = "[\"\(database)\"]"
        e["PGKEEP_SCHEDULE_CRON"] = cron
        return e
    }

    @Test func catchesUpOnceThenWaitsForItsTime() throws {
        let dir = TestServer.tempDir("daemon")
        // 03:00 on the 1st of January: not within this test.
        let run = try TestServer.pgkeep(
            ["daemon"], env: Self.env(dir, database: TestServer.pagila, cron: "0 3 1 1 *"),
            whileRunning: { pid in
                for _ in 0..<200 where (try? TestServer.manifests(dir).count) ?? 0 == 0 {
                    Thread.sleep(forTimeInterval: 0.1)
                }
                Thread.sleep(forTimeInterval: 0.5)
                kill(pid, SIGTERM)
            })
        #expect(run.status == 143, "\(run.stderr)")
        #expect(run.stdout.contains("running once now"), "\(run.stdout)")
        #expect(run.stdout.contains("run finished: ok"), "\(run.stdout)")
        #expect(
            run.stdout.contains("next run at \(Calendar.current.component(.year, from: Date()) + 1)-01-01 03:00 UTC"))
        #expect(try TestServer.manifests(dir).count == 1)
        // A second start finds the backup fresh (within one interval: a year) and does not run.
        let again = try TestServer.pgkeep(
            ["daemon"], env: Self.env(dir, database: TestServer.pagila, cron: "0 3 1 1 *"),
            whileRunning: { pid in
                Thread.sleep(forTimeInterval: 1.5)
                kill(pid, SIGTERM)
            })
        #expect(again.status == 143)
        #expect(!again.stdout.contains("run started"), "\(again.stdout)")
        #expect(try TestServer.manifests(dir).count == 1)
    }

    @Test func sigtermMidRunStopsItCleanlyWithinTheGrace() throws {
        let dir = TestServer.tempDir("daemon-term")
        var children: [Int32] = []
        var stopped = Date()
        let run = try TestServer.pgkeep(
            ["daemon"], env: Self.env(dir, database: AtomicRestoreTests.source, cron: "0 3 1 1 *"),
            whileRunning: { pid in
                // Wait until the run's pg_dump is at work, then stop the daemon as docker stop does.
                for _ in 0..<200 {
                    children = OperationsTests.children(of: pid)
                    if !children.isEmpty && !OperationsTests.backends(of: children[0]).isEmpty { break }
                    Thread.sleep(forTimeInterval: 0.05)
                }
                stopped = Date()
                kill(pid, SIGTERM)
            })
        let took = Date().timeIntervalSince(stopped)
        #expect(!children.isEmpty, "the daemon never started its run")
        #expect(run.status == 143, "\(run.stderr)")
        #expect(took < 10, "docker stop allows 10 s; it took \(took) s")
        #expect(HostileWorld.backupFiles(dir).isEmpty, "\(TestServer.listing(dir))")
        for child in children {
            #expect(!TestServer.alive(child), "the run \(child) is still alive")
            #expect(try HostileWorld.sessionsLeft(of: child) == 0)
        }
    }
}
