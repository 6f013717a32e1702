import Foundation
import Testing

@testable import PGKeep

/// `--docker-compose` on the real engine (Scripts/test.sh's own dockerd): a compose project whose
/// `db` service is PostgreSQL 15 with Pagila as its POSTGRES_DB. After every run that ends by
/// itself, nothing of pgkeep's is left in the container: no process, no backend, no file.
@Suite(.enabled(if: RealDocker.enabled, "needs the Docker Engine Scripts/test.sh starts"), .serialized)
struct DockerComposeTests {
    @Test(arguments: ["gzip", "zstd"])
    func backupRunsPgDumpInsideTheService(codec: String) throws {
        let project = try RealDocker.project()
        let dir = TestServer.tempDir("dc")
        let run = try TestServer.pgkeep(
            ["backup"] + project.options("db") + ["--dir", dir, "--compress", codec], env: RealDocker.pgkeepEnv)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try project.leftovers("db", of: run.pid).isEmpty, "nothing left, at once")
        let (path, manifest) = try #require(try TestServer.manifests(dir).first)
        #expect(manifest.database == TestServer.pagila, "the database defaults to POSTGRES_DB")
        #expect(manifest.dockerCompose?.service == "db")
        #expect(manifest.verification.pgRestoreList == true)
        #expect(manifest.compression.algorithm == codec)
        let data = (path as NSString).deletingLastPathComponent + "/" + manifest.file
        let decompress = codec == "zstd" ? "zstd -q -dc" : "gunzip -c"
        let listing = try TestServer.shell(
            "\(decompress) '\(data)' > '\(dir)/plain.dump' && \(TestServer.pgBin)/pg_restore --list '\(dir)/plain.dump'"
        ).stdout
        #expect(listing.contains("TABLE DATA public rental"))
    }

    /// The cron job for a compose deployment: the service, files and command come from the config.
    @Test func runTakesTheServiceFromTheConfig() throws {
        let project = try RealDocker.project()
        let dir = TestServer.tempDir("dcrun")
        try FileSystem.writePrivateFile(
            dir + "/pgkeep.toml",
            data: Data(
                """
                [backup]
                dir = "backups"

                [docker_compose]
                service = "db"
                files = ["\(project.dir)/docker-compose.yml"]
                command = "\(RealDocker.composeCommand)"
                """.utf8))
        let run = try TestServer.pgkeep(
            ["run", "--config", dir + "/pgkeep.toml", "--quiet"], env: RealDocker.pgkeepEnv)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.isEmpty)
        let (_, manifest) = try #require(try TestServer.manifests(dir + "/backups").first)
        #expect(manifest.database == TestServer.pagila, "the service's POSTGRES_DB")
        #expect(try project.leftovers("db", of: run.pid).isEmpty)
    }

    @Test func snapshotInsideTheService() throws {
        let project = try RealDocker.project()
        let dir = TestServer.tempDir("dcsnap")
        let refused = try TestServer.pgkeep(
            ["snapshot"] + project.options("db") + ["--dir", dir], env: RealDocker.pgkeepEnv)
        #expect(refused.status == ExitCodes.usage, "a drill needs a server reachable from here: \(refused.stderr)")
        let run = try TestServer.pgkeep(
            ["snapshot"] + project.options("db") + ["--dir", dir, "--no-drill"], env: RealDocker.pgkeepEnv)
        #expect(run.status == 0, "\(run.stderr)")
        let manifests = try TestServer.manifests(dir)
        #expect(
            manifests.contains { $0.manifest.format == .globals }
                && manifests.contains { $0.manifest.database == TestServer.pagila })
        #expect(manifests.allSatisfy { $0.manifest.pinned })
        #expect(try project.leftovers("db", of: run.pid).isEmpty)
    }

    /// A password given in a URI reaches the container's tools by name only: while pg_dump waits
    /// (on a lock the test holds), no command line on this machine or in the container holds it,
    /// and the container's pg_dump has it in its environment.
    @Test func passwordGoesByNameOnly() throws {
        let project = try RealDocker.project()
        let secret = "Dc-\(UUID().uuidString)"
        var env = RealDocker.pgkeepEnv
        env["DATABASE_URL"] = "postgresql://postgres:\(secret)@localhost/\(TestServer.pagila)"
        let lock = try TableLock(project, "db", TestServer.pagila, table: "actor")
        var seen: (argv: [String], environ: Bool) = ([], false)
        let run = try TestServer.pgkeep(
            ["backup"] + project.options("db") + ["--dir", TestServer.tempDir("dcpw")], env: env
        ) { pid in
            if lock.waitForWaiter(pgkeepPID: pid) {
                let dumps = project.pids("db", of: pid).filter { $0.name == "pg_dump" }
                let environ = dumps.compactMap { ProcScan.read($0.pid, "environ") }
                seen = (
                    ProcScan.commandLines(containing: secret),
                    !environ.isEmpty && environ.allSatisfy { $0.range(of: Data("PGPASSWORD=\(secret)\0".utf8)) != nil }
                )
            }
            lock.release()
        }
        #expect(run.status == 0, "\(run.stderr)")
        #expect(seen.argv.isEmpty, "\(seen.argv)")
        #expect(seen.environ, "the container's pg_dump got it by name")
        #expect(!run.stderr.contains(secret))
    }

    /// (One codec: what differs between codecs happens on this machine, and the host suites
    /// restore both.)
    @Test(arguments: ["zstd"])
    func restoreRunsInsideTheServiceAfterCheckingTheCopy(codec: String) throws {
        let project = try RealDocker.project()
        let dir = TestServer.tempDir("dcr")
        #expect(
            try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--compress", codec]).status == 0)
        let manifest = try #require(try TestServer.manifests(dir).first).path

        let target = TestServer.uniqueName("dc_full")
        let partial = TestServer.uniqueName("dc_table")
        defer { for db in [target, partial] { project.dropDatabase("db", db) } }
        let run = try TestServer.pgkeep(
            ["restore", manifest] + project.options("db") + ["-d", target, "--create"], env: RealDocker.pgkeepEnv)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try project.leftovers("db", of: run.pid).isEmpty, "the copy in /tmp is gone, nothing runs")
        #expect(try project.schema("db", target) == TestServer.schema(TestServer.pagila))
        #expect(try project.rowCounts("db", target) == TestServer.rowCounts(TestServer.pagila))

        // One table, into a database given by name.
        let one = try TestServer.pgkeep(
            ["restore", manifest] + project.options("db") + ["-d", partial, "--create", "--table", "actor"],
            env: RealDocker.pgkeepEnv)
        #expect(one.status == 0, "\(one.stderr)")
        #expect(
            try project.psql(
                "db", partial, "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public'")
                == "actor")
        #expect(try project.psql("db", partial, "SELECT count(*) FROM actor") == "200")
        #expect(try project.leftovers("db", of: one.pid).isEmpty)
    }

    /// The other restore modes through the service: pg_restore --jobs reading the copy in the
    /// container, and --clean over a database that holds the tables already.
    @Test(arguments: [["--jobs", "2", "--create"], ["--clean", "--yes"]])
    func restoreModesInsideTheService(mode: [String]) throws {
        let project = try RealDocker.project()
        let dir = TestServer.tempDir("dcmode")
        #expect(try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir]).status == 0)
        let file = try #require(try TestServer.manifests(dir).first).path
        let target = TestServer.uniqueName("dc_mode")
        defer { project.dropDatabase("db", target) }
        if mode.contains("--clean") {
            try project.load("db", target, from: TestServer.pagila)
            _ = try project.psql("db", target, "DELETE FROM payment; UPDATE actor SET first_name = 'X'")
        }
        let run = try TestServer.pgkeep(
            ["restore", file] + project.options("db") + ["-d", target] + mode, env: RealDocker.pgkeepEnv)
        #expect(run.status == 0, "\(mode): \(run.stderr)")
        #expect(try project.leftovers("db", of: run.pid).isEmpty, "the copy in /tmp is gone, nothing runs")
        #expect(try project.rowCounts("db", target) == TestServer.rowCounts(TestServer.pagila))
        #expect(try project.psql("db", target, "SELECT count(*) FROM actor WHERE first_name = 'X'") == "0")
    }

    /// A service let go inside a process that goes on (a job of `pgkeep daemon`): its watchdog is
    /// told all is clean and reaped, and nothing of the run stays in the container.
    @Test func aServiceLetGoEndsItsWatchdog() throws {
        let project = try RealDocker.project()
        let watchdogs = {
            ProcScan.children(of: getpid()).filter {
                ProcScan.read($0, "cmdline").map { String(decoding: $0, as: UTF8.self).contains("last=dirty") } ?? false
            }
        }
        let before = watchdogs().count
        var source: DockerComposeDumpSource? = try DockerComposeDumpSource(
            options: DockerComposeOptions(
                service: "db", composeFiles: [project.dir + "/docker-compose.yml"],
                composeCommand: RealDocker.composeCommand),
            spec: ConnectionSpec(parameters: [:]), environment: RealDocker.pgkeepEnv)
        let preflight = try #require(try source?.preflight(database: nil))
        #expect(preflight.server.database == TestServer.pagila)
        #expect(watchdogs().count == before + 1, "a watchdog while the service is held")
        source = nil
        #expect(watchdogs().count == before, "and none once it is let go")
        #expect(try project.leftovers("db", of: getpid()).isEmpty)
    }
}
