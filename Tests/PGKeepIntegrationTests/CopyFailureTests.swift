import Foundation
import Testing

@testable import PGKeep

/// A copy that cannot finish leaves nothing behind: interrupted by SIGTERM in its data phase, or
/// failing there because the source server went away, it drops the database it was building,
/// says so, and exits non-zero.
@Suite(
    .serialized,
    .enabled(if: TestServer.enabled && Server16.enabled, "needs the 15 and 16 servers Scripts/test.sh starts"))
struct CopyFailureTests {
    let env = CopyTestSupport.env

    @Test func sigtermInTheDataPhaseDropsTheUnfinishedCopy() throws {
        let target = TestServer.uniqueName("sigterm")
        defer { Server16.dropDatabase(target) }
        var signalled = false
        let r = try TestServer.pgkeep(
            ["copy", "--from", CopyTestSupport.uri15(CopyTestSupport.bigDatabase), "--to", Server16.uri(target)],
            env: env
        ) { pid in
            signalled = CopyTestSupport.wait(seconds: 60) { CopyTestSupport.copyRunning(on16: true) }
            kill(pid, SIGTERM)
        }
        #expect(signalled, "the data phase was seen before the signal")
        #expect(r.status == 128 + SIGTERM, "\(r.stderr)")
        #expect(r.stderr.contains("interrupted by SIGTERM"), "\(r.stderr)")
        #expect(r.stderr.contains("dropped database \"pgkeep_copy_"), "\(r.stderr)")
        #expect(try CopyTestSupport.leftovers("pgkeep_copy_", on16: true) == "0")
        #expect(try Server16.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '\(target)'") == "0")
        #expect(
            CopyTestSupport.wait(seconds: 10) {
                (try? Server16.psql(
                    "postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgkeep-%'")) == "0"
            }, "no session of the copy is left on the target")
    }

    /// The source is a cluster of its own, stopped (immediate shutdown) in the middle of the data phase.
    @Test func theSourceStoppingPartwayFailsTheCopyAndDropsIt() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let dir = "/tmp/pgkeep-copysource-\(getpid())-\(UInt16.random(in: 0...UInt16.max))"
        let port = TestServer.freePort()
        let start = try TestServer.run(
            root + "/Scripts/pg-server.sh", ["start", dir, port, TestServer.password], env: TestServer.env)
        try #require(start.status == 0, "\(start.stderr)")
        defer { _ = try? TestServer.run(root + "/Scripts/pg-server.sh", ["stop", dir], env: TestServer.env) }
        let local = [TestServer.pgBin + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", dir, "-p", port]
        _ = try TestServer.run(local[0], Array(local.dropFirst()) + ["-d", "postgres", "-c", "CREATE DATABASE src"])
        let load = try TestServer.run(
            local[0],
            Array(local.dropFirst()) + [
                "-d", "src", "-c",
                "CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 4) AS payload FROM generate_series(1, 1500000) g",
            ])
        try #require(load.status == 0, "\(load.stderr)")
        let target = TestServer.uniqueName("stopped")
        defer { Server16.dropDatabase(target) }
        var stopped = false
        let r = try TestServer.pgkeep(
            ["copy", "--from", "postgresql://postgres@127.0.0.1:\(port)/src", "--to", Server16.uri(target)], env: env
        ) { _ in
            guard CopyTestSupport.wait(seconds: 60, { CopyTestSupport.copyRunning(on16: true) }) else { return }
            let stop = try? TestServer.run(
                "/usr/sbin/runuser",
                ["-u", "postgres", "--", TestServer.pgBin + "/pg_ctl", "-D", dir + "/data", "-m", "immediate", "stop"],
                env: TestServer.env)
            stopped = stop?.status == 0
        }
        #expect(stopped, "the source was stopped during the data phase")
        #expect(r.status == ExitCodes.failure, "\(r.stderr)")
        #expect(r.stderr.contains("reading rows from the source failed"), "\(r.stderr)")
        #expect(r.stderr.contains("was dropped; the target is as it was"), "\(r.stderr)")
        #expect(try CopyTestSupport.leftovers("pgkeep_copy_", on16: true) == "0")
        #expect(try Server16.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '\(target)'") == "0")
    }
}
