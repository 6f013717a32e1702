import Foundation
import Testing

@testable import PGKeep

/// Nothing about a remote fails quietly: a listing rclone prints that does not parse is an
/// error (before, "no backups"), and a remote prune is monitored and counted in the metrics like
/// a local one (before, it returned before monitoring started).
@Suite(
    .enabled(
        if: TestServer.enabled && (TestServer.s3Available || TestServer.required),
        "needs the server and moto that Scripts/test.sh starts"))
struct RemoteFailureTests {
    @Test func aListingThatDoesNotParseIsAnError() throws {
        // A stand-in rclone: the real one cannot be made to print garbage with exit 0 on demand.
        let bin = TestServer.tempDir("badrclone")
        _ = FileManager.default.createFile(
            atPath: bin + "/rclone", contents: Data("#!/bin/sh\necho 'NOTICE: something else'\nexit 0\n".utf8),
            attributes: [.posixPermissions: 0o755])
        var env = OffsiteTests.env()
        env["PATH"] = bin + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        for args in [
            ["list", "--remote", "s3test:any"], ["prune", "--remote", "s3test:any", "--dry-run"],
            ["status", "--remote", "s3test:any", "--dir", TestServer.tempDir("empty")],
        ] {
            let r = try TestServer.pgkeep(args, env: env)
            #expect(r.status != 0, "\(args): \(r.stdout)")
            #expect(r.stderr.contains("is not its JSON listing"), "\(args): \(r.stderr)")
        }
    }

    @Test func aRemotePruneIsMonitoredAndCounted() throws {
        let remote = try OffsiteTests.bucket() + "/pruned"
        let dir = TestServer.tempDir("remote-prune")
        let env = OffsiteTests.env()
        for _ in 0..<2 {
            let r = try TestServer.pgkeep(
                ["backup", "-d", TestServer.pagila, "--dir", dir, "--remote", remote], env: env)
            try #require(r.status == 0, "\(r.stderr)")
            Thread.sleep(forTimeInterval: 1.1)
        }
        let metrics = dir + "/pgkeep.prom"
        let prune = try TestServer.pgkeep(
            [
                "prune", "--remote", remote, "--dir", dir, "--keep-last", "1", "--keep-daily", "0", "--keep-weekly",
                "0", "--keep-monthly", "0",
                "--metrics-file", metrics,
            ], env: env)
        #expect(prune.status == 0, "\(prune.stderr)")
        let text = String(decoding: FileManager.default.contents(atPath: metrics) ?? Data(), as: UTF8.self)
        #expect(
            text.contains("pgkeep_backups{database=\"\(TestServer.pagila)\",location=\"\(remote)\"} 1"), "\(text)")
        #expect(text.contains("location=\"local\"} 2"), "\(text)")
    }
}
