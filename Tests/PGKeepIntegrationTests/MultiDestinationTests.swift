import Foundation
import Testing

@testable import PGKeep

/// Several destinations (`[[remote]]`) against two real stores: moto's S3 API and a local folder
/// through rclone. Every backup goes to each; one destination down does not stop the others and
/// the run exits 1 naming it; each destination prunes with its own retention; list, status and
/// config check show each; restore --latest takes the first destination that has the database
/// when the local directory has none, and a damaged object on one is refused.
@Suite(
    .enabled(
        if: TestServer.enabled && (TestServer.s3Available || TestServer.required),
        "needs the server and moto that Scripts/test.sh starts"), .serialized)
struct MultiDestinationTests {
    static func env() -> [String: String] {
        var env = OffsiteTests.env()
        // A folder on this machine as an rclone remote of its own kind (the "local" backend).
        env["RCLONE_CONFIG_LOCALDISK_TYPE"] = "local"
        // A second S3 store that is down: nothing listens on port 1.
        for (key, value) in [
            ("TYPE", "s3"), ("PROVIDER", "Other"), ("ENDPOINT", "http://127.0.0.1:1"), ("ACCESS_KEY_ID", "test"),
            ("SECRET_ACCESS_KEY", "test"), ("REGION", "us-east-1"),
        ] {
            env["RCLONE_CONFIG_S3DOWN_\(key)"] = value
        }
        return env
    }

    static func config(_ dir: String, bucket: String, folder: String, down: Bool) throws -> String {
        var text = """
            [backup]
            dir = "\(dir)/backups"
            databases = ["\(TestServer.pagila)"]

            [[remote]]
            name = "s3"
            target = "\(bucket)"

            [[remote]]
            name = "disk"
            target = "localdisk:\(folder)"
            [remote.retention]
            keep_last = 1
            keep_daily = 0
            keep_weekly = 0
            keep_monthly = 0

            """
        if down { text += "\n[[remote]]\nname = \"down\"\ntarget = \"s3down:nowhere/x\"\n" }
        let path = dir + "/pgkeep.toml"
        try FileSystem.writePrivateFile(path, data: Data(text.utf8))
        return path
    }

    @Test func everyBackupGoesToEachDestinationWithItsOwnRetention() throws {
        let dir = TestServer.tempDir("multi")
        let bucket = try OffsiteTests.bucket() + "/multi"
        let folder = dir + "/disk-store"
        let config = try Self.config(dir, bucket: bucket, folder: folder, down: false)
        let env = Self.env()
        let check = try TestServer.pgkeep(["config", "check", config], env: env)
        #expect(
            check.stdout.contains("s3: \(bucket)") && check.stdout.contains("disk: localdisk:\(folder)"),
            "\(check.stdout)")
        for _ in 0..<2 {
            let run = try TestServer.pgkeep(["run", "--config", config], env: env)
            try #require(run.status == 0, "\(run.stderr)")
            Thread.sleep(forTimeInterval: 1.1)
        }
        let onS3 = try TestServer.pgkeep(["list", "--remote", "s3", "--config", config, "--json"], env: env)
        let onDisk = try TestServer.pgkeep(["list", "--remote", "disk", "--config", config, "--json"], env: env)
        #expect(onS3.status == 0 && onDisk.status == 0, "\(onS3.stderr) \(onDisk.stderr)")
        #expect(onS3.stdout.components(separatedBy: "\"keep\"").count - 1 == 2, "\(onS3.stdout)")
        #expect(onDisk.stdout.components(separatedBy: "\"keep\"").count - 1 == 1, "disk keeps 1: \(onDisk.stdout)")
        let status = try TestServer.pgkeep(["status", "--config", config], env: env)
        #expect(status.status == 0, "\(status.stdout) \(status.stderr)")
        #expect(status.stdout.contains(bucket) && status.stdout.contains(folder), "\(status.stdout)")

        // The local directory emptied: --latest takes the first destination that has it.
        try FileManager.default.removeItem(atPath: dir + "/backups")
        let target = TestServer.uniqueName("multi_restore")
        defer { TestServer.dropDatabase(target) }
        let restore = try TestServer.pgkeep(
            ["restore", "--latest", "--database", TestServer.pagila, "--config", config, "-d", target, "--create"],
            env: env)
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(try TestServer.rowCounts(target) == TestServer.rowCounts(TestServer.pagila))
    }

    @Test func oneDestinationDownDoesNotStopTheOthers() throws {
        let dir = TestServer.tempDir("multi-down")
        let bucket = try OffsiteTests.bucket() + "/multi"
        let folder = dir + "/disk-store"
        let config = try Self.config(dir, bucket: bucket, folder: folder, down: true)
        let run = try TestServer.pgkeep(["run", "--config", config], env: Self.env())
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.stderr.contains("upload to 1 of 3 destinations failed: down"), "\(run.stderr)")
        #expect(run.stderr.contains("it is on s3, disk"), "\(run.stderr)")
        #expect(try TestServer.manifests(dir + "/backups").count == 1, "the local backup stays")
        #expect(try OffsiteTests.remoteFiles(bucket).filter { $0.hasSuffix(".manifest.json") }.count == 1)
        #expect(try TestServer.manifests(folder).count == 1)
    }

    @Test func aDamagedObjectOnOneIsRefusedAndTheOtherRestores() throws {
        let dir = TestServer.tempDir("multi-damage")
        let bucket = try OffsiteTests.bucket() + "/multi"
        let folder = dir + "/disk-store"
        let config = try Self.config(dir, bucket: bucket, folder: folder, down: false)
        let env = Self.env()
        let run = try TestServer.pgkeep(["run", "--config", config], env: env)
        try #require(run.status == 0, "\(run.stderr)")
        let (manifestPath, manifest) = try #require(try TestServer.manifests(folder).first)
        let data = (manifestPath as NSString).deletingLastPathComponent + "/" + manifest.file
        let handle = try #require(FileHandle(forUpdatingAtPath: data))
        try handle.seek(toOffset: UInt64(manifest.size / 2))
        try handle.write(contentsOf: Data([0x42, 0x42, 0x42]))
        try handle.close()
        let target = TestServer.uniqueName("multi_damaged")
        defer { TestServer.dropDatabase(target) }
        for streamed in [true, false] {
            let refused = try TestServer.pgkeep(
                [
                    "restore", "--latest", "--database", TestServer.pagila, "--remote", "disk", "--config", config,
                    "-d", target, "--create",
                ] + (streamed ? [] : ["--jobs", "2"]), env: env)
            #expect(refused.status != 0, "\(refused.stderr)")
            #expect(
                try TestServer.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '\(target)'") == "0")
        }
        let restored = try TestServer.pgkeep(
            [
                "restore", "--latest", "--database", TestServer.pagila, "--remote", "s3", "--config", config, "-d",
                target, "--create",
            ], env: env)
        #expect(restored.status == 0, "\(restored.stderr)")
    }
}
