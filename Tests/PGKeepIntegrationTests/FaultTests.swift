import Foundation
import Testing

@testable import PGKeep

/// Nothing pgkeep reports as a backup is ever partial: a pg_dump that fails or dies, a full disk
/// and a failed connection all leave no final-named file, no manifest, no temporary file, a
/// non-zero exit, and every earlier backup as it was.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"))
struct FaultTests {
    /// A good earlier backup to check that failures leave it alone.
    func earlierBackup(in dir: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> (
        path: String, sha: String, files: [String]
    ) {
        let run = try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--schema-only"])
        #expect(run.status == 0, "\(run.stderr)", sourceLocation: sourceLocation)
        let (mpath, manifest) = try #require(try TestServer.manifests(dir).first, sourceLocation: sourceLocation)
        let path = (mpath as NSString).deletingLastPathComponent + "/" + manifest.file
        return (path, try TestServer.sha256sum(path), TestServer.listing(dir))
    }

    @Test(arguments: [
        ("\"$REAL\" \"$@\" | head -c 200000; exit 1", "exited with status 1"),
        ("\"$REAL\" \"$@\" | head -c 200000; kill -KILL $$", "killed by signal 9"),
        ("printf 'PGDMP'; exit 0", "verification failed"),
    ])
    func brokenPgDumpLeavesNothingBehind(script: String, expected: String) throws {
        let dir = TestServer.tempDir("fault")
        let earlier = try earlierBackup(in: dir)
        let fake = try TestServer.fakeToolDir(pgDump: script)
        for (format, codec) in [("custom", "gzip"), ("plain", "gzip"), ("custom", "zstd"), ("plain", "zstd")] {
            let run = try TestServer.pgkeep([
                "backup", "-d", TestServer.pagila, "--dir", dir, "--pg-bin", fake, "--format", format,
                "--compress", codec,
            ])
            #expect(run.status == ExitCodes.failure, "\(format): \(run.stderr)")
            #expect(run.stderr.contains(expected), "\(format): \(run.stderr)")
            #expect(
                run.stderr.contains("no backup was recorded") || run.stderr.contains("verification failed"),
                "\(run.stderr)")
            #expect(TestServer.listing(dir) == earlier.files, "only the earlier backup remains")
            #expect(try TestServer.sha256sum(earlier.path) == earlier.sha)
        }
    }

    @Test func fullDiskLeavesEarlierBackupsIntact() throws {
        let dir = TestServer.tempDir("full")
        let mount = try TestServer.run("/bin/mount", ["-t", "tmpfs", "-o", "size=1200k", "tmpfs", dir])
        try #require(mount.status == 0, "mounting a small tmpfs needs root: \(mount.stderr)")
        defer { _ = try? TestServer.run("/bin/umount", ["-l", dir]) }
        let earlier = try earlierBackup(in: dir)
        let key = try TestServer.ageKey()
        for args in [
            ["--format", "plain", "--no-compress"], ["--no-compress"], ["--format", "directory", "--no-compress"],
            ["--no-compress", "--encrypt-to", key.recipient],
        ] {
            let run = try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir] + args)
            #expect(run.status != 0, "\(args)")
            #expect(run.stderr.contains("No space left on device"), "\(args): \(run.stderr)")
            #expect(TestServer.listing(dir) == earlier.files, "\(args): \(TestServer.listing(dir))")
            #expect(try TestServer.sha256sum(earlier.path) == earlier.sha)
        }
    }

    @Test(arguments: [
        ("wrong password", ["-d", "pagila"], ["PGPASSWORD": "not-the-password"], "password authentication failed"),
        ("unknown host", ["-d", "pagila", "-h", "no-such-host.invalid"], [:], "unknown host"),
        ("refused port", ["-d", "pagila", "-p", "1"], [:], "connection refused"),
        (
            "missing database", ["-d", "no_such_database_here"], [:],
            "database \"no_such_database_here\" does not exist"
        ),
    ])
    func connectionFailuresGiveOneClearLine(what: String, args: [String], env: [String: String], expected: String)
        throws
    {
        let dir = TestServer.tempDir("conn") + "/backups"
        let run = try TestServer.pgkeep(
            ["backup", "--dir", dir] + args, env: TestServer.connectionEnv.merging(env) { $1 })
        #expect(run.status == ExitCodes.preflight, "\(what): \(run.stderr)")
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(what): \(run.stderr)")
        #expect(run.stderr.contains(expected), "\(what): \(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir), "no file or directory is created before preflight passes")
    }

    @Test func olderPgDumpThanServerIsRefused() throws {
        let fake = try TestServer.fakeToolDir(pgDump: "exit 0")
        // Replace the version answer with an old one.
        let script = """
            #!/bin/bash
            for a in "$@"; do [ "$a" = --version ] && { echo "pg_dump (PostgreSQL) 12.9"; exit 0; }; done
            exit 0
            """
        _ = FileManager.default.createFile(
            atPath: fake + "/pg_dump", contents: Data(script.utf8), attributes: [.posixPermissions: 0o755])
        let dir = TestServer.tempDir("old") + "/b"
        let run = try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--pg-bin", fake])
        #expect(run.status == ExitCodes.preflight)
        #expect(run.stderr.contains("pg_dump 12.9 is older than the server"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir))
    }

    @Test(arguments: [(SIGINT, Int32(130), "gzip"), (SIGTERM, Int32(143), "gzip"), (SIGTERM, Int32(143), "zstd")])
    func signalsStopPgDumpAndRemoveTemporaryFiles(signal: Int32, code: Int32, codec: String) throws {
        let marker = "31.\(UInt16.random(in: 100...999))"
        let fake = try TestServer.fakeToolDir(pgDump: "printf 'PGDMP'; exec sleep \(marker)")
        let dir = TestServer.tempDir("sig")
        let args = ["backup", "-d", TestServer.pagila, "--dir", dir, "--pg-bin", fake, "--compress", codec]
        let run = try TestServer.pgkeep(args) { pid in
            // Wait until the stand-in pg_dump is running, then signal pgkeep.
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline && !Self.processRunning(argvContains: marker) { usleep(20_000) }
            kill(pid, signal)
        }
        #expect(run.status == code, "\(run.stderr)")
        #expect(run.stderr.contains("interrupted"), "\(run.stderr)")
        #expect(!Self.processRunning(argvContains: marker), "pg_dump was stopped")
        // Only the (empty) folder and the lock file, which stays: flock locks live on the open file.
        // (No attempt log either: a run a signal ends writes nothing new.)
        #expect(
            TestServer.listing(dir).filter { !$0.hasSuffix(TestServer.pagila) && $0 != ".pgkeep.lock" }.isEmpty,
            "\(TestServer.listing(dir))")
    }

    /// pg_restore writes the script that psql runs as one transaction; when it dies partway the
    /// part it wrote must not commit (before, psql saw the end of its input and committed).
    @Test func aPgRestoreThatDiesHalfwayCommitsNothing() throws {
        let dir = TestServer.tempDir("prdie")
        let b = try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir])
        #expect(b.status == 0, "\(b.stderr)")
        let (mpath, _) = try #require(try TestServer.manifests(dir).first)
        let target = TestServer.uniqueName("prdie")
        try TestServer.createDatabase(target)
        defer { TestServer.dropDatabase(target) }
        _ = try TestServer.psql(target, "CREATE TABLE keep_me AS SELECT 1 AS x")
        let fake = TestServer.tempDir("fakerestore")
        for tool in ["pg_dump", "psql", "pg_dumpall"] {
            try FileManager.default.createSymbolicLink(
                atPath: fake + "/" + tool, withDestinationPath: TestServer.pgBin + "/" + tool)
        }
        let script = """
            #!/bin/bash
            REAL=\(TestServer.pgBin)/pg_restore
            # Dies after the schema, at a statement boundary: what it wrote is valid SQL on its own.
            for a in "$@"; do [ "$a" = --file=- ] && { "$REAL" "$@" | sed '/^COPY /,$d'; exit 1; }; done
            exec "$REAL" "$@"
            """
        _ = FileManager.default.createFile(
            atPath: fake + "/pg_restore", contents: Data(script.utf8), attributes: [.posixPermissions: 0o755])
        let run = try TestServer.pgkeep(["restore", mpath, "--dbname", target, "--clean", "--yes", "--pg-bin", fake])
        #expect(run.status == ExitCodes.failure, "\(run.stderr)")
        #expect(
            try TestServer.psql(target, "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public'")
                == "keep_me",
            "nothing of the partial script was committed")
    }

    static func processRunning(argvContains needle: String) -> Bool {
        for pid in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(pid) != nil {
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            if String(decoding: data, as: UTF8.self).contains(needle) { return true }
        }
        return false
    }
}
