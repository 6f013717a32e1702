import Foundation
import Testing

@testable import PGKeep

/// The contract of deploy/kubernetes/indexed-job.yaml, run on the real engine as Kubernetes would
/// run it: N containers of the pgkeep image, each with `JOB_COMPLETION_INDEX=I` and
/// `PGKEEP_SHARDS=N`, one config with two PostgreSQL servers, one shared backup volume. Every
/// (server, database) pair is backed up exactly once; a shard killed mid-run and started again,
/// and a shard started twice, leave that result unchanged; nothing partial stays.
@Suite(
    .enabled(
        if: (RealDocker.env["PGKEEP_TEST_IMAGE"] != nil || TestServer.required) && RealDocker.enabled,
        "needs the engine and the pgkeep image Scripts/test.sh makes"), .serialized)
struct IndexedJobTests {
    static let shards = 3

    /// Two servers on a network of their own, with databases of a few hundred thousand rows.
    final class Fleet {
        let tag = String(UUID().uuidString.prefix(8)).lowercased()
        var network: String { "pgkeep-fleet-\(tag)" }
        var servers: [String: [String]] = ["alpha": [], "beta": []]
        var containers: [String] = []

        init() throws {
            try RealDocker.docker(["network", "create", network])
            for (server, count) in [("alpha", 4), ("beta", 3)] {
                let name = "\(server)-\(tag)"
                try RealDocker.docker([
                    "run", "-d", "--name", name, "--network", network, "--network-alias", server, "-e",
                    "POSTGRES_PASSWORD=\(TestServer.password)", RealDocker.image15,
                ])
                containers.append(name)
                var ready = false
                for _ in 0..<100 where !ready {
                    ready =
                        (try RealDocker.docker(["exec", name, "pg_isready", "-U", "postgres"], check: false)).status
                        == 0
                    if !ready { Thread.sleep(forTimeInterval: 0.2) }
                }
                for k in 1...count {
                    let db = "\(server)_db\(k)"
                    try psql(name, "postgres", "CREATE DATABASE \(db)")
                    try psql(
                        name, db, "CREATE TABLE t AS SELECT g, md5(g::text) FROM generate_series(1, \(150_000 * k)) g")
                    servers[server]?.append(db)
                }
            }
        }

        func psql(_ container: String, _ db: String, _ sql: String) throws {
            try RealDocker.docker([
                "exec", container, "psql", "-U", "postgres", "-qAt", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql,
            ])
        }

        deinit {
            for c in containers { _ = try? RealDocker.docker(["rm", "-f", c], check: false) }
            _ = try? RealDocker.docker(["network", "rm", network], check: false)
        }
    }

    /// The shared volume (a host folder, as a PVC), the config and the password file.
    static func volume(_ fleet: Fleet) throws -> String {
        let dir = TestServer.tempDir("indexed")
        try FileManager.default.createDirectory(atPath: dir + "/backups", withIntermediateDirectories: true)
        try FileSystem.writePrivateFile(dir + "/password", data: Data(TestServer.password.utf8))
        let config = """
            [connection]
            user = "postgres"
            password_file = "/etc/pgkeep/password"
            [backup]
            dir = "/backups"
            compress = "gzip:9"
            [schedule]
            min_interval = "1h"
            [[server]]
            name = "alpha"
            host = "alpha"
            databases = "all"
            exclude = ["postgres"]
            [[server]]
            name = "beta"
            host = "beta"
            databases = "all"
            exclude = ["postgres"]
            """
        try FileSystem.writePrivateFile(dir + "/pgkeep.toml", data: Data(config.utf8))
        // The pod's fsGroup/runAsUser: the image's user owns what it reads and writes.
        _ = try TestServer.run("/bin/chown", ["-R", "10001:10001", dir])
        chmod(dir, 0o755)
        return dir
    }

    /// Starts shard `index` detached; returns its container's name.
    static func startShard(_ index: Int, _ fleet: Fleet, _ dir: String, suffix: String = "") throws -> String {
        let name = "shard\(index)\(suffix)-\(fleet.tag)"
        try RealDocker.docker([
            "run", "-d", "--name", name, "--network", fleet.network, "-e", "JOB_COMPLETION_INDEX=\(index)", "-e",
            "PGKEEP_SHARDS=\(shards)", "-v", "\(dir)/backups:/backups", "-v",
            "\(dir)/pgkeep.toml:/etc/pgkeep/pgkeep.toml:ro",
            "-v", "\(dir)/password:/etc/pgkeep/password:ro", try #require(RealDocker.env["PGKEEP_TEST_IMAGE"]), "run",
            "--config", "/etc/pgkeep/pgkeep.toml",
        ])
        fleet.containers.append(name)
        return name
    }

    static func exitCode(_ container: String) throws -> Int32 {
        Int32(try RealDocker.docker(["wait", container]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// Backups per "server/database" in the volume (globals included), and leftovers.
    static func result(_ dir: String) throws -> (counts: [String: Int], temporary: [String]) {
        var counts: [String: Int] = [:]
        for server in ["alpha", "beta"] {
            for (_, manifest) in try TestServer.manifests("\(dir)/backups/\(server)") {
                counts["\(server)/\(manifest.database)", default: 0] += 1
            }
        }
        return (counts, TestServer.listing(dir + "/backups").filter { $0.contains(".pgkeep-tmp-") })
    }

    @Test func everyPairOnceAcrossShardsKillsAndReruns() throws {
        let fleet = try Fleet()
        let dir = try Self.volume(fleet)
        var expected: [String: Int] = ["alpha/@globals": 1, "beta/@globals": 1]
        for (server, dbs) in fleet.servers { for db in dbs { expected["\(server)/\(db)"] = 1 } }

        // Shard 1 is killed once it has recorded a backup (and is still dumping), then started again.
        let doomed = try Self.startShard(1, fleet, dir, suffix: "k")
        var sawOne = false
        for _ in 0..<300 where !sawOne {
            let logs = try RealDocker.docker(["logs", doomed], check: false)
            sawOne = logs.stderr.contains(".dump.gz (") || logs.stdout.contains(".dump.gz (")
            if !sawOne { Thread.sleep(forTimeInterval: 0.05) }
        }
        let early = try RealDocker.docker(["logs", doomed], check: false)
        try #require(
            try RealDocker.docker(["kill", doomed], check: false).status == 0,
            "shard 1 ended before the kill: \(early.stdout)\(early.stderr)")
        #expect(try Self.exitCode(doomed) == 137)
        // What the SIGKILL left: whole backups, and at most the temporary file it was writing
        // (never counted; prune removes it once it is an hour old, as it cannot tell a dead
        // shard's file from a live one's: in containers every pgkeep is PID 1).
        let killed = try Self.result(dir)
        #expect(sawOne && !killed.counts.isEmpty, "\(killed.counts)")
        #expect(killed.counts.values.allSatisfy { $0 == 1 }, "\(killed.counts)")

        // The whole Job: shards 0..N-1 at once, shard 0 started twice.
        let runs = try (0..<Self.shards).map { try Self.startShard($0, fleet, dir) }
        let twice = try Self.startShard(0, fleet, dir, suffix: "b")
        var codes: [Int32] = []
        var logs: [String] = []
        for run in runs + [twice] {
            codes.append(try Self.exitCode(run))
            let l = try RealDocker.docker(["logs", run], check: false)
            logs.append(l.stdout + l.stderr)
        }
        #expect(codes[1] == 0 && codes[2] == 0, "\(codes): \(logs)")
        // Shard 0 twice at once: each server's directory has a lock per shard, so each pair was done
        // by one of them (the counts below); a run that found every server held exits 75 having
        // done nothing, one that found some held leaves those alone.
        let pair = [(codes[0], logs[0]), (codes[3], logs[3])]
        #expect(pair.allSatisfy { $0.0 == 0 || $0.0 == 75 }, "\(codes): \(logs)")
        #expect(pair.allSatisfy { $0.0 != 75 || !$0.1.contains(".dump.gz (") }, "\(codes): \(logs)")
        let done = try Self.result(dir)
        #expect(done.counts == expected, "\(done.counts)")
        // The rerun of the killed shard skipped what it had recorded before the kill.
        #expect(logs[1].contains("skipped"), "\(logs[1])")

        // A rerun of every shard (Kubernetes may start a Job twice) changes nothing.
        for run in try (0..<Self.shards).map({ try Self.startShard($0, fleet, dir, suffix: "r") }) {
            #expect(try Self.exitCode(run) == 0)
        }
        let again = try Self.result(dir)
        #expect(again.counts == expected, "\(again.counts)")
        #expect(Set(again.temporary).isSubset(of: killed.temporary), "\(again.temporary)")
        // Every backup reads back whole.
        for server in ["alpha", "beta"] {
            let v = try TestServer.pgkeep(["verify", "--all", "--dir", "\(dir)/backups/\(server)"])
            #expect(v.status == 0, "\(v.stderr)")
        }
    }
}
