import Foundation
import Testing

@testable import PGKeep

/// `--remote` against a real S3 API on loopback: moto's server mode, started by Scripts/test.sh,
/// with rclone configured through RCLONE_CONFIG_* variables only.
@Suite(
    .enabled(
        if: TestServer.enabled && (TestServer.s3Available || TestServer.required),
        "needs the server and moto that Scripts/test.sh starts"))
struct OffsiteTests {
    static var motoPort: String? { TestServer.env["PGKEEP_TEST_MOTO_PORT"] }

    /// pgkeep's environment with an rclone remote `s3test` on `port` (moto's unless a proxy's).
    static func env(port: String? = motoPort) -> [String: String] {
        var env = TestServer.connectionEnv
        env["AWS_CA_BUNDLE"] = nil  // set on some machines; the S3 SDK in rclone rejects it for http
        env["RCLONE_CONFIG_S3TEST_TYPE"] = "s3"
        env["RCLONE_CONFIG_S3TEST_PROVIDER"] = "Other"
        env["RCLONE_CONFIG_S3TEST_ENDPOINT"] = "http://127.0.0.1:\(port!)"
        env["RCLONE_CONFIG_S3TEST_ACCESS_KEY_ID"] = "test"
        env["RCLONE_CONFIG_S3TEST_SECRET_ACCESS_KEY"] = "test"
        env["RCLONE_CONFIG_S3TEST_REGION"] = "us-east-1"
        env["RCLONE_CONFIG"] = "/dev/null"
        return env
    }

    /// A new bucket; returns `s3test:<bucket>`.
    static func bucket(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let name = "pgkeep-\(UInt32.random(in: 0...UInt32.max))"
        let r = try TestServer.run(
            "/usr/bin/rclone", ["mkdir", "s3test:\(name)", "--retries", "1", "--low-level-retries", "2"], env: env())
        try #require(r.status == 0, "\(r.stderr)", sourceLocation: sourceLocation)
        return "s3test:\(name)"
    }

    static func remoteFiles(_ target: String) throws -> [String] {
        let r = try TestServer.run("/usr/bin/rclone", ["lsf", "-R", "--files-only", target], env: env())
        return r.stdout.split(separator: "\n").map(String.init).sorted()
    }

    @Test func backupListPruneAndRestoreThroughTheBucket() throws {
        let remote = try Self.bucket() + "/prod"
        let dir = TestServer.tempDir("offsite")
        let env = Self.env()
        let first = try TestServer.pgkeep(
            ["backup", "-d", TestServer.pagila, "--dir", dir, "--remote", remote, "--row-counts"], env: env)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("uploaded and checked \(remote)/\(TestServer.pagila)/"), "\(first.stderr)")
        let second = try TestServer.pgkeep(
            [
                "backup", "-d", TestServer.pagila, "--dir", dir, "--remote", remote, "--format", "plain",
                "--remote-only",
            ], env: env)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try TestServer.manifests(dir).count == 1, "--remote-only removed the local copy of the second")

        // Objects pgkeep did not write: a note, a dump without a manifest, another tool's folder.
        let foreign = TestServer.tempDir("foreign") + "/x"
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: foreign))
        let lookalike = BackupName(
            database: TestServer.pagila, time: Date(timeIntervalSince1970: 1_600_000_000), format: .custom,
            codec: .gzip
        ).fileName
        for rel in ["\(TestServer.pagila)/notes.txt", "\(TestServer.pagila)/\(lookalike)", "pg_back/shop.dump"] {
            _ = try TestServer.run("/usr/bin/rclone", ["copyto", foreign, "\(remote)/\(rel)"], env: env)
        }

        let list = try TestServer.pgkeep(["list", "--remote", remote, "--json"], env: env)
        #expect(list.status == 0, "\(list.stderr)")
        let rows = try #require(
            (try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])?["backups"]
                as? [[String: Any]])
        #expect(rows.count == 2, "only the two backups with manifests: \(list.stdout)")

        // Restore the newest (the plain one) straight from the bucket into a new database.
        let target = TestServer.uniqueName("froms3")
        defer { TestServer.dropDatabase(target) }
        let restore = try TestServer.pgkeep(
            [
                "restore", "--remote", remote, "--latest", "--database", TestServer.pagila,
                "--dbname", target, "--create",
            ], env: env)
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(try TestServer.rowCounts(target) == TestServer.rowCounts(TestServer.pagila))

        // Prune to one: the older backup goes (manifest and data), the foreign objects stay.
        let prune = try TestServer.pgkeep(
            [
                "prune", "--remote", remote, "--keep-last", "1", "--keep-daily", "0", "--keep-weekly", "0",
                "--keep-monthly", "0",
            ], env: env)
        #expect(prune.status == 0, "\(prune.stderr)")
        let left = try Self.remoteFiles(remote)
        #expect(left.filter { $0.hasSuffix(".manifest.json") }.count == 1, "\(left)")
        #expect(
            left.contains { $0.hasSuffix(".sql.gz") }
                && !left.contains { $0.hasSuffix(".dump.gz") && !$0.contains(lookalike) }, "\(left)")
        for rel in ["\(TestServer.pagila)/notes.txt", "\(TestServer.pagila)/\(lookalike)", "pg_back/shop.dump"] {
            #expect(left.contains(rel), "\(rel) is not pgkeep's: \(left)")
        }
        let status = try TestServer.pgkeep(["status", "--dir", dir, "--remote", remote, "--max-age", "1h"], env: env)
        #expect(status.status == 0, "\(status.stderr)")
    }

    /// A whole restore of a gzip or zstd backup reads as it downloads; the object's sha256 is checked
    /// against the manifest before the transaction commits, so a damaged object changes nothing.
    @Test(arguments: ["gzip", "zstd"])
    func restoreStreamsAndADamagedObjectIsRolledBack(codec: String) throws {
        let remote = try Self.bucket() + "/stream-\(codec)"
        var env = Self.env()
        // Its own TMPDIR: the other tests' scratch directories come and go in the shared one.
        let tmp = TestServer.tempDir("streamtmp")
        env["TMPDIR"] = tmp
        let b = try TestServer.pgkeep(
            [
                "backup", "-d", TestServer.pagila, "--dir", TestServer.tempDir("stream"), "--remote", remote,
                "--remote-only", "--compress", codec,
            ], env: env)
        #expect(b.status == 0, "\(b.stderr)")
        let target = TestServer.uniqueName("streamed")
        defer { TestServer.dropDatabase(target) }
        let scratchBefore = EncryptionTests.scratchDirectories(in: tmp)
        let good = try TestServer.pgkeep(
            [
                "restore", "--remote", remote, "--latest", "--database", TestServer.pagila,
                "--dbname", target, "--create", "--json",
            ], env: env)
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("as it streamed"), "\(good.stdout)")
        #expect(!good.stderr.contains("downloading"), "no local copy: \(good.stderr)")
        #expect(EncryptionTests.scratchDirectories(in: tmp) == scratchBefore)
        let expected = try TestServer.rowCounts(TestServer.pagila)
        #expect(try TestServer.rowCounts(target) == expected)

        // Damage the object in the middle (same size), then restore over the good copy with
        // --clean: the check fails at the end, psql never commits, the target keeps its rows.
        let object = try #require(
            try Self.remoteFiles(remote).first { $0.hasSuffix(codec == "zstd" ? ".dump.zst" : ".dump.gz") })
        let local = TestServer.tempDir("dmg") + "/obj"
        _ = try TestServer.run("/usr/bin/rclone", ["copyto", "\(remote)/\(object)", local], env: env)
        let size = (try FileManager.default.attributesOfItem(atPath: local)[.size] as! NSNumber).intValue
        let h = try #require(FileHandle(forUpdatingAtPath: local))
        try h.seek(toOffset: UInt64(size - 64))
        try h.write(contentsOf: Data(repeating: 0x42, count: 16))
        try h.close()
        _ = try TestServer.run("/usr/bin/rclone", ["copyto", local, "\(remote)/\(object)"], env: env)
        _ = try TestServer.psql(target, "CREATE TABLE marker AS SELECT 1 AS x")
        let bad = try TestServer.pgkeep(
            [
                "restore", "--remote", remote, "--latest", "--database", TestServer.pagila,
                "--dbname", target, "--clean", "--yes",
            ], env: env)
        #expect(bad.status == ExitCodes.failure)
        #expect(
            bad.stderr.contains("refusing to restore") || bad.stderr.contains("does not match its manifest"),
            "\(bad.stderr)")
        #expect(try TestServer.rowCounts(target).filter { $0.key != "public.marker" } == expected, "rolled back")
        #expect(try TestServer.psql(target, "SELECT count(*) FROM marker") == "1")
        // Into a new database: it is dropped again.
        let fresh = TestServer.uniqueName("streamfail")
        defer { TestServer.dropDatabase(fresh) }
        let bad2 = try TestServer.pgkeep(
            [
                "restore", "--remote", remote, "--latest", "--database", TestServer.pagila,
                "--dbname", fresh, "--create",
            ], env: env)
        #expect(bad2.status == ExitCodes.failure)
        #expect(try TestServer.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '\(fresh)'") == "0")
    }

    /// The store goes away halfway through the upload (a proxy in front of moto is killed, so
    /// moto keeps what it received): no manifest on the remote, a non-zero exit that says the
    /// local backup is fine, and the local backup intact.
    @Test func anUploadCutOffHalfwayLeavesNoRemoteManifest() throws {
        let remote = try Self.bucket() + "/cut"
        let proxyPort = TestServer.freePort()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("Scripts/tcp-proxy.py").path
        let proxy = ChildProcess(
            Command(
                executable: "/usr/bin/env", arguments: ["python3", script, proxyPort, Self.motoPort!],
                environment: TestServer.env),
            stdout: .pipe)
        try proxy.start()
        defer {
            proxy.signalGroup(SIGKILL)
            proxy.wait()
        }
        let ready = FileHandle(fileDescriptor: proxy.stdoutDescriptor, closeOnDealloc: false)
        try #require(TestServer.waitReadable(ready, seconds: 30), "the proxy did not start")
        _ = ready.availableData  // "ready"

        var env = Self.env(port: proxyPort)
        env["RCLONE_BWLIMIT"] = "150k"  // about 5 s for the backup, so there is a middle to cut
        let dir = TestServer.tempDir("cut")
        let run = try TestServer.pgkeep(
            ["backup", "-d", TestServer.pagila, "--dir", dir, "--remote", remote], env: env
        ) { _ in
            #expect(OperationsTests.waitFor { FaultTests.processRunning(argvContains: "copyto") })
            Thread.sleep(forTimeInterval: 1.5)
            proxy.signalGroup(SIGKILL)
        }
        #expect(run.status == ExitCodes.failure)
        #expect(
            run.stderr.contains("is complete and verified, but its upload to 1 of 1 destinations failed"),
            "\(run.stderr)")
        let local = try TestServer.manifests(dir)
        #expect(local.count == 1)
        let (mpath, m) = try #require(local.first)
        #expect(try TestServer.sha256sum((mpath as NSString).deletingLastPathComponent + "/" + m.file) == m.sha256)
        let left = try Self.remoteFiles(remote)
        #expect(!left.contains { $0.hasSuffix(".manifest.json") }, "no remote manifest: \(left)")
        let list = try TestServer.pgkeep(["list", "--remote", remote, "--json"], env: Self.env())
        #expect(!list.stdout.contains("\"path\""), "nothing on the remote counts as a backup: \(list.stdout)")
    }

    @Test func aRunUploadsEncryptedBackupsFromTheConfig() throws {
        let remote = try Self.bucket() + "/nightly"
        let key = try TestServer.ageKey()
        let dir = TestServer.tempDir("offrun")
        let config = try TestServer.runConfig(
            in: dir,
            """
            [remote]
            target = "\(remote)"

            [encryption]
            recipients = ["\(key.recipient)"]
            """)
        let env = Self.env()
        let run = try TestServer.pgkeep(["run", "--config", config, "--quiet"], env: env)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.isEmpty)
        let files = try Self.remoteFiles(remote)
        #expect(
            files.contains { $0.hasSuffix(".dump.gz.age") }
                && files.contains { $0.hasSuffix(".dump.gz.age.manifest.json") }, "\(files)")
        let target = TestServer.uniqueName("fromage")
        defer { TestServer.dropDatabase(target) }
        let restore = try TestServer.pgkeep(
            [
                "restore", "--remote", remote, "--latest", "--database", TestServer.pagila,
                "--identity", key.keyFile, "--dbname", target, "--create",
            ], env: env)
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(try TestServer.psql(target, "SELECT count(*) FROM rental") == "16044")
    }
}

/// `status` for backups kept on the remote only: the empty local directory is not STALE.
extension OffsiteTests {
    @Test func statusOfRemoteOnlyBackupsCountsTheRemote() throws {
        let remote = try Self.bucket() + "/only"
        let dir = TestServer.tempDir("remoteonly")
        let env = Self.env()
        let b = try TestServer.pgkeep(
            ["backup", "-d", TestServer.pagila, "--dir", dir, "--schema-only", "--remote", remote, "--remote-only"],
            env: env)
        #expect(b.status == 0, "\(b.stderr)")
        #expect(try TestServer.manifests(dir).isEmpty, "no local copy, on purpose")
        let named = ["--database", TestServer.pagila, "--max-age", "1h"]
        let flag = try TestServer.pgkeep(
            ["status", "--dir", dir, "--remote", remote, "--remote-only", "--json"] + named, env: env)
        #expect(flag.status == 0, "\(flag.stderr)")
        #expect(
            flag.stdout.contains("\"where\" : \"\(remote)\"") && !flag.stdout.contains("\"local\""), "\(flag.stdout)")
        // Without saying so, the database is stale in the empty local directory, as before.
        let plain = try TestServer.pgkeep(["status", "--dir", dir, "--remote", remote] + named, env: env)
        #expect(plain.status == ExitCodes.failure)
        #expect(plain.stderr.contains("STALE: \(TestServer.pagila)"), "\(plain.stderr)")
        // The config's remote_only says it for every command.
        let config = try TestServer.runConfig(
            in: dir, "[remote]\ntarget = \"\(remote)\"\nremote_only = true\n\n[status]\nmax_age = \"1h\"\n")
        let withoutIt = try TestServer.runConfig(
            in: TestServer.tempDir("remoteonly2"), "[remote]\ntarget = \"\(remote)\"\n")
        #expect(
            try TestServer.pgkeep(["status", "--config", withoutIt, "--dir", dir], env: env).status == ExitCodes.failure
        )
        let fromConfig = try TestServer.pgkeep(["status", "--config", config, "--dir", dir], env: env)
        #expect(fromConfig.status == 0, "\(fromConfig.stderr)")
        // And a database with no remote backup is still stale.
        let other = try TestServer.pgkeep(
            ["status", "--dir", dir, "--remote", remote, "--remote-only", "--database", "nosuchdb"], env: env)
        #expect(other.status == ExitCodes.failure)
        #expect(other.stderr.contains("STALE: nosuchdb"), "\(other.stderr)")
    }
}

/// Kill points in an upload: pgkeep killed with SIGKILL at seeded instants of `backup --remote`
/// (slowed to about 5 s by rclone's bandwidth limit). The remote never holds a manifest for data
/// that is not whole, the local backup is whole, and the next backup uploads and verifies.
extension OffsiteTests {
    @Test(.tags(.killPoints)) func anUploadKilledAnywhereLeavesNoLyingRemoteBackup() throws {
        let remote = try Self.bucket() + "/killed"
        let dir = TestServer.tempDir("killup")
        var env = Self.env()
        env["RCLONE_BWLIMIT"] = "150k"
        let args = ["backup", "-d", TestServer.pagila, "--dir", dir, "--remote", remote]
        let started = Date()
        #expect(try TestServer.pgkeep(args, env: env).status == 0)
        let full = Date().timeIntervalSince(started)
        for fraction in KillPointTests.fractions("upload") {
            let pid = try KillPointTests.killAfter(full * fraction, args, env: env)
            _ = OperationsTests.waitFor(10) { !FaultTests.processRunning(argvContains: remote) }
            let lost = try KillPointTests.checkAfterKill(
                "upload at \(Int(fraction * 100))%", dir: dir, earlier: KillPointTests.snapshot(dir), pid: pid)
            // Every manifest on the remote has its data, whole.
            let verify = try TestServer.pgkeep(["list", "--remote", remote, "--json"], env: env)
            #expect(verify.status == 0, "\(verify.stderr)")
            let restored = TestServer.uniqueName("killup")
            defer { TestServer.dropDatabase(restored) }
            let restore = try TestServer.pgkeep(
                [
                    "restore", "--remote", remote, "--latest", "--database", TestServer.pagila, "-d", restored,
                    "--create",
                ],
                env: Self.env())
            #expect(restore.status == 0, "the newest remote backup restores: \(restore.stderr)")
            KillPointTests.record(
                "backup --remote (upload)", "t=\(Int(fraction * 100))%", lost: lost || restore.status != 0)
        }
        #expect(try TestServer.pgkeep(args, env: Self.env()).status == 0, "the next backup uploads")
    }
}
