import Foundation
import Testing

@testable import PGKeep

/// The major-version upgrade path with a real PostgreSQL 16: the restore commands `snapshot`
/// prints restore the 15 snapshot on 16, and the client tools are chosen for the server.
@Suite(.enabled(if: TestServer.enabled && Server16.enabled, "needs the 15 and 16 servers Scripts/test.sh starts"))
struct UpgradeTests {
    /// The printed commands, run as printed (the globals line and Pagila's pgkeep line) with NEW
    /// set to the 16 server: Pagila arrives with every row.
    @Test func snapshotRestoreCommandsRestoreOn16() throws {
        let dir = TestServer.tempDir("snap16")
        defer { Server16.dropDatabase(TestServer.pagila) }
        Server16.dropDatabase(TestServer.pagila)
        let new = "postgresql://postgres@127.0.0.1:\(Server16.port)"
        let snap = try TestServer.pgkeep(
            ["snapshot", "--dir", dir, "--no-drill", "--new-server", new], env: CopyTestSupport.env)
        #expect(snap.status == 0, "\(snap.stderr)")
        let lines = snap.stdout.split(separator: "\n").map(String.init)
        let globals = try #require(lines.first { $0.contains("| psql -X -d \"$NEW/postgres\"") })
        let restore = try #require(
            lines.first { $0.hasPrefix("pgkeep restore ") && $0.contains("--dbname \"$NEW/\(TestServer.pagila)\"") })
        var env = CopyTestSupport.env
        env["PATH"] = Server16.bin + ":" + (env["PATH"] ?? "")
        let script =
            "NEW='\(new)'; \(globals) >/dev/null 2>&1 || true; "
            + restore.replacingOccurrences(of: "pgkeep restore", with: "'\(TestServer.binary)' restore")
        let r = try TestServer.run("/bin/bash", ["-c", "set -eo pipefail; " + script], env: env)
        #expect(r.status == 0, "\(script)\n\(r.stderr)")
        #expect(try Server16.rowCounts(TestServer.pagila) == TestServer.rowCounts(TestServer.pagila))
        let c = try TestServer.pgkeep(
            ["compare", CopyTestSupport.uri15(TestServer.pagila), Server16.uri(TestServer.pagila)],
            env: CopyTestSupport.env)
        #expect(c.status == 0, "\(c.stderr)")
    }

    /// Without --pg-bin, a backup of the 16 server takes the 16 client (found in the configured
    /// list) and says so in the manifest; with only 15 clients to be found, it refuses and lists them.
    @Test func theClientIsChosenForTheServer() throws {
        let dir = TestServer.tempDir("client")
        var env = CopyTestSupport.env
        env["PGPORT"] = Server16.port
        let ok = try TestServer.pgkeep(["backup", "-d", "postgres", "--dir", dir, "--schema-only"], env: env)
        #expect(ok.status == 0, "\(ok.stderr)")
        let manifest = try #require(try TestServer.manifests(dir).first?.manifest)
        #expect(manifest.pgDumpVersion == "16.2")
        #expect(manifest.pgDumpPath == Server16.bin + "/pg_dump")
        env["PGKEEP_PG_BIN_SEARCH"] = nil
        let old = try TestServer.pgkeep(["backup", "-d", "postgres", "--dir", dir, "--schema-only"], env: env)
        #expect(old.status == ExitCodes.preflight, "\(old.stderr)")
        #expect(old.stderr.contains("is older than the server"), "\(old.stderr)")
        #expect(old.stderr.contains("clients found: 15."), "the clients found are listed: \(old.stderr)")
    }
}
