import Foundation
import Testing

@testable import PGKeep

/// Fleets against the real servers: databases in parallel, several servers in one config, shards,
/// and what tries to break them (a database that fails while others run, SIGTERM mid-run, two
/// runs of one shard at once, a server that cannot be reached, a database dropped mid-run).
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"), .serialized)
struct FleetTests {
    /// Six databases of different sizes (a table of 20,000 × k rows in database k).
    static let databases: [String] = {
        let prefix = TestServer.uniqueName("fleet")
        var names: [String] = []
        for k in 1...6 {
            let db = "\(prefix)_\(k)"
            do {
                try TestServer.createDatabase(db)
                _ = try TestServer.psql(
                    db, "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, \(20_000 * k)) g")
            } catch {
                Issue.record("cannot create \(db): \(error)")
            }
            names.append(db)
        }
        return names
    }()

    static var databaseFlags: [String] { databases.flatMap { ["--database", $0] } }

    /// A TOML list of strings.
    static func toml<S: Sequence<String>>(_ names: S) -> String {
        "[" + names.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
    }

    /// The test server's environment with the slowest gzip level: dumps that last long enough to
    /// be interrupted.
    static var slowEnv: [String: String] {
        var env = TestServer.connectionEnv
        env["PGKEEP_BACKUP_COMPRESS"] = "gzip:9"
        return env
    }

    /// The environment of a config-driven run: no PG* variable (they would win over the config's
    /// servers), the password from a file.
    static func fleetEnvironment() throws -> (env: [String: String], passwordFile: String) {
        let file = TestServer.tempDir("fleetpw") + "/password"
        try FileSystem.writePrivateFile(file, data: Data(TestServer.password.utf8))
        var env = TestServer.connectionEnv
        for key in env.keys where key.hasPrefix("PG") { env[key] = nil }
        return (env, file)
    }

    /// Waits (up to 20 s) until `pid`'s run has `count` pg_dumps in COPY on the server (in `database`
    /// only, when given).
    static func waitForCopies(of pid: Int32, count: Int = 1, in database: String? = nil) {
        let deadline = Date().addingTimeInterval(20)
        let only = database.map { " AND datname = '\($0)'" } ?? ""
        while Date() < deadline {
            let n =
                (try? TestServer.psql(
                    "postgres",
                    "SELECT count(*) FROM pg_stat_activity WHERE \(TestServer.appName(pid)) AND query LIKE 'COPY%'"
                        + only)).flatMap { Int($0) } ?? 0
            if n >= count { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// The backups under `dir` per database folder (data files only).
    static func backups(in dir: String) throws -> [String: Int] {
        var count: [String: Int] = [:]
        for (_, manifest) in try TestServer.manifests(dir) { count[manifest.database, default: 0] += 1 }
        return count
    }

    @Test func parallelRunBacksUpEachOnceLargestFirstAndOneFailureStopsNothing() throws {
        let dir = TestServer.tempDir("fleetpar")
        let r = try TestServer.pgkeep(
            ["run", "--dir", dir, "--parallel", "3", "--database", "no_such_db_fleet"] + Self.databaseFlags)
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("no_such_db_fleet"), "\(r.stderr)")
        #expect(r.stderr.contains("1 of 7 failed, 6 backed up and verified"), "\(r.stderr)")
        let counts = try Self.backups(in: dir)
        #expect(Self.databases.allSatisfy { counts[$0] == 1 }, "\(counts)")
        // Largest first: the biggest database's line comes before the smallest's.
        let lines = r.stderr.split(separator: "\n")
        let big = lines.firstIndex { $0.contains(Self.databases[5] + ":") }
        let small = lines.firstIndex { $0.contains(Self.databases[0] + ":") }
        #expect(big != nil && small != nil && big! < small!, "\(r.stderr)")
        #expect(HostileWorld.backupFiles(dir).allSatisfy { !$0.contains(".pgkeep-tmp-") })
        // --json keeps its shape with several backups at once.
        let json = try TestServer.pgkeep(
            [
                "run", "--dir", dir, "--parallel", "2", "--json", "--database", Self.databases[0], "--database",
                Self.databases[1],
            ])
        #expect(json.status == 0, "\(json.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((object?["backups"] as? [Any])?.count == 2 && object?["ok"] as? Bool == true, "\(json.stdout)")
        #expect((object?["failures"] as? [Any])?.isEmpty == true, "\(json.stdout)")
    }

    @Test func sigtermStopsEveryBackupInFlight() throws {
        let dir = TestServer.tempDir("fleetterm")
        // The three largest databases (dumped first) have a table held locked: their pg_dumps wait
        // on it, in flight however fast dumps are, until the run is stopped.
        let locks = try Self.databases.suffix(3).map { try OperationsTests.TableLock(database: $0, table: "t") }
        defer { for lock in locks { lock.release() } }
        let r = try TestServer.pgkeep(
            ["run", "--dir", dir, "--parallel", "3"] + Self.databaseFlags,
            whileRunning: { pid in
                // Once two pg_dumps of this run wait on the server, stop the run.
                let waiting = OperationsTests.waitFor { OperationsTests.backends(of: pid, waiting: true).count >= 2 }
                #expect(waiting, "two of the run's dumps never waited on the locks")
                kill(pid, SIGTERM)
            })
        #expect(r.status == 143, "\(r.stderr)")
        #expect(TestServer.listing(dir).allSatisfy { !$0.contains(".pgkeep-tmp-") }, "\(TestServer.listing(dir))")
        // Whatever was recorded is whole: every manifest's file is there and verifies.
        for (path, _) in try TestServer.manifests(dir) {
            let v = try TestServer.pgkeep(["verify", String(path.dropLast(".manifest.json".count))])
            #expect(v.status == 0, "\(v.stderr)")
        }
        #expect(try HostileWorld.sessionsLeft(of: r.pid) == 0)
    }

    @Test func shardsCoverEveryDatabaseOnceAndASecondRunOfAShardRefuses() throws {
        let dir = TestServer.tempDir("fleetshard")
        let config = dir + "/pgkeep.toml"
        try FileSystem.writePrivateFile(config, data: Data("[schedule]\nmin_interval = \"1h\"\n".utf8))
        for i in 0..<3 {
            let r = try TestServer.pgkeep(
                ["run", "--config", config, "--dir", dir + "/b", "--shard", "\(i)/3"] + Self.databaseFlags)
            #expect(r.status == 0, "\(r.stderr)")
        }
        #expect(try Self.backups(in: dir + "/b") == Dictionary(uniqueKeysWithValues: Self.databases.map { ($0, 1) }))
        // The same shards again, from an Indexed Job's environment: nothing is repeated, every
        // database is reported skipped by its shard.
        var skipped = 0
        var env = TestServer.connectionEnv
        env["PGKEEP_SHARDS"] = "3"
        for i in 0..<3 {
            env["JOB_COMPLETION_INDEX"] = "\(i)"
            let r = try TestServer.pgkeep(
                ["run", "--config", config, "--dir", dir + "/b"] + Self.databaseFlags, env: env)
            #expect(r.status == 0 && !r.stderr.contains(".dump.gz ("), "\(r.stderr)")
            skipped += Self.databases.filter { r.stderr.contains($0) }.count
        }
        #expect(try Self.backups(in: dir + "/b").values.allSatisfy { $0 == 1 })
        #expect(skipped == Self.databases.count)
        // --force backs up again what min_interval left alone.
        let forced = try TestServer.pgkeep(
            ["run", "--config", config, "--dir", dir + "/b", "--shard", "0/1", "--force"] + Self.databaseFlags)
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try Self.backups(in: dir + "/b").values.allSatisfy { $0 == 2 })
        // Two runs of one shard at once: the second exits 75 and writes nothing; another shard runs beside.
        // The first run is the shard that owns the largest database, whose table a session holds
        // locked: its dump of it waits on the lock until the others have tried, so it is still
        // running when they do, however fast the dumps are.
        let args = ["run", "--dir", dir + "/c"] + Self.databaseFlags
        let mine =
            try (0..<2).first { try Shard(index: $0, count: 2).owns(server: "", database: Self.databases[5]) } ?? 0
        var second: TestServer.Run?
        var other: TestServer.Run?
        var prune: TestServer.Run?
        let lock = try OperationsTests.TableLock(database: Self.databases[5], table: "t")
        let first = try TestServer.pgkeep(
            args + ["--shard", "\(mine)/2"],
            whileRunning: { pid in
                let waiting = OperationsTests.waitFor { !OperationsTests.backends(of: pid, waiting: true).isEmpty }
                #expect(waiting, "the first run's dump never waited on the lock")
                second = try? TestServer.pgkeep(args + ["--shard", "\(mine)/2"])
                prune = try? TestServer.pgkeep(["prune", "--dir", dir + "/c"])
                // The other shard backs up its databases beside it (its prune then waits for the
                // directory, which the first run holds until the lock goes).
                let theirs = Self.databases.filter {
                    (try? Shard(index: mine, count: 2).owns(server: "", database: $0)) == false
                }
                other = try? TestServer.pgkeep(
                    args + ["--shard", "\(1 - mine)/2"],
                    whileRunning: { _ in
                        let beside = OperationsTests.waitFor {
                            let done = (try? Self.backups(in: dir + "/c")) ?? [:]
                            return theirs.allSatisfy { done[$0] == 1 }
                        }
                        #expect(beside, "the other shard did not back up while the first ran")
                        lock.release()
                    })
            })
        lock.release()
        #expect(first.status == 0, "\(first.stderr)")
        #expect(second?.status == 75, "\(second?.stderr ?? "")")
        #expect(other?.status == 0, "\(other?.stderr ?? "")")
        #expect(prune?.status == 75, "a prune (exclusive) refuses while shards run: \(prune?.stderr ?? "")")
        #expect(try Self.backups(in: dir + "/c") == Dictionary(uniqueKeysWithValues: Self.databases.map { ($0, 1) }))
    }

    @Test func serversInOneConfigAndOneThatCannotBeReached() throws {
        let (env, passwordFile) = try Self.fleetEnvironment()
        let dir = TestServer.tempDir("fleetsrv")
        let config = dir + "/pgkeep.toml"
        let text = """
            [connection]
            user = "postgres"
            password_file = "\(passwordFile)"
            connect_timeout = 2
            [backup]
            dir = "\(dir)/backups"
            parallel = 3
            per_server = 2
            [[server]]
            name = "main"
            host = "127.0.0.1"
            port = \(TestServer.port)
            databases = \(Self.toml(Self.databases.prefix(3)))
            [[server]]
            name = "socket"
            host = "\(TestServer.socketDir)"
            port = \(TestServer.port)
            databases = "all"
            exclude = \(Self.toml(["postgres"] + Self.databases.dropFirst(3)))
            [[server]]
            name = "gone"
            host = "127.0.0.1"
            port = \(TestServer.freePort())
            databases = "all"
            """
        try FileSystem.writePrivateFile(config, data: Data(text.utf8))
        let metrics = dir + "/pgkeep.prom"
        let r = try TestServer.pgkeep(["run", "--config", config, "--metrics-file", metrics], env: env)
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("gone/*: cannot connect"), "\(r.stderr)")
        let main = try Self.backups(in: dir + "/backups/main")
        #expect(main == Dictionary(uniqueKeysWithValues: Self.databases.prefix(3).map { ($0, 1) }), "\(main)")
        let socket = try Self.backups(in: dir + "/backups/socket")
        #expect(socket[Self.databases[0]] == 1 && socket[Self.databases[5]] == nil, "\(socket)")
        #expect(socket["@globals"] == 1, "\(socket)")
        let prom = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(prom.contains("server=\"main\",database=\"\(Self.databases[0])\""), "\(prom)")
        #expect(prom.contains("server=\"socket\""), "\(prom)")
        // status asks each server; a database created since the run is stale.
        let late = TestServer.uniqueName("fleetlate")
        try TestServer.createDatabase(late)
        defer { TestServer.dropDatabase(late) }
        let status = try TestServer.pgkeep(["status", "--config", config], env: env)
        #expect(status.status == 1, "\(status.stderr)")
        #expect(status.stderr.contains("socket/\(late)"), "\(status.stderr)")
        #expect(status.stderr.contains("gone/*"), "\(status.stderr)")
        #expect(!status.stderr.contains("main/\(Self.databases[0])") || status.stdout.isEmpty)
        // One server at a time for the commands that work on one directory.
        let list = try TestServer.pgkeep(["list", "--config", config, "--server", "main"], env: env)
        #expect(list.status == 0 && list.stdout.contains(Self.databases[2]), "\(list.stderr)")
        let refused = try TestServer.pgkeep(["list", "--config", config], env: env)
        #expect(refused.status == 64 && refused.stderr.contains("--server"), "\(refused.stderr)")
    }

    @Test func aDatabaseDroppedMidRunFailsAloneAndTheOthersAreKept() throws {
        let doomed = TestServer.uniqueName("fleetdoomed")
        try TestServer.createDatabase(doomed)
        let dir = TestServer.tempDir("fleetdrop")
        // The doomed database is the smallest, so with two slots it starts last: drop it once the
        // first dumps are running.
        let r = try TestServer.pgkeep(
            ["run", "--dir", dir, "--parallel", "2", "--database", doomed] + Self.databaseFlags, env: Self.slowEnv,
            whileRunning: { pid in
                let deadline = Date().addingTimeInterval(20)
                while Date() < deadline {
                    let n =
                        (try? TestServer.psql(
                            "postgres", "SELECT count(*) FROM pg_stat_activity WHERE \(TestServer.appName(pid))"))
                        .flatMap { Int($0) } ?? 0
                    if n >= 1 { break }
                    Thread.sleep(forTimeInterval: 0.02)
                }
                TestServer.dropDatabase(doomed)
            })
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains(doomed), "\(r.stderr)")
        let counts = try Self.backups(in: dir)
        #expect(Self.databases.allSatisfy { counts[$0] == 1 }, "\(counts)")
        #expect(counts[doomed] == nil)
        #expect(TestServer.listing(dir).allSatisfy { !$0.contains(".pgkeep-tmp-") })
    }
}
