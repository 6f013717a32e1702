import Foundation
import Testing

@testable import PGKeep

/// `--docker-compose` against a stand-in `docker` (no engine runs here): it checks the arguments
/// it gets (compose, -f/--project-directory, exec -T, never -t, variables by name only) and runs the
/// inner command locally, the way the container would, with POSTGRES_USER and POSTGRES_DB set.
@Suite(.enabled(if: TestServer.enabled, "needs the server Scripts/test.sh starts"))
struct DockerComposeTests {
    func standIn(command: String) throws -> (bin: String, log: String) {
        StandInDocker.write(
            command: command,
            services: [
                "db": StandInDocker.postgres(
                    socket: TestServer.socketDir, port: TestServer.port, bin: TestServer.pgBin,
                    database: TestServer.pagila)
            ],
            hooks: """
                if [ "$1" = dd ] && [ -n "${STANDIN_CORRUPT:-}" ]; then
                  cat > /dev/null; printf 'garbage' > "${2#of=}"; exit 0
                fi
                """)
    }

    @Test(arguments: [("docker", "gzip"), ("docker-compose", "gzip"), ("docker", "zstd")])
    func backupRunsPgDumpInsideTheService(command: String, codec: String) throws {
        let (bin, log) = try standIn(command: command)
        var env = TestServer.connectionEnv
        env["PATH"] = bin + ":" + env["PATH"]!
        for k in ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD"] { env[k] = nil }
        let dir = TestServer.tempDir("dc")
        let composeCommand = command == "docker" ? "docker compose" : "docker-compose"
        let run = try TestServer.pgkeep(
            [
                "backup", "--docker-compose", "db", "--compose-file", "/srv/app/compose.yml",
                "--project-directory", "/srv/app", "--compose-command", composeCommand, "--dir", dir,
                "--compress", codec,
            ], env: env)
        #expect(run.status == 0, "\(run.stderr)")
        let (path, manifest) = try #require(try TestServer.manifests(dir).first)
        #expect(manifest.database == TestServer.pagila, "the database defaults to POSTGRES_DB")
        #expect(manifest.dockerCompose?.service == "db")
        #expect(manifest.verification.pgRestoreList == true)
        let data = (path as NSString).deletingLastPathComponent + "/" + manifest.file
        #expect(manifest.compression.algorithm == codec)
        let decompress = codec == "zstd" ? "zstd -q -dc" : "gunzip -c"
        let listing = try TestServer.shell(
            "\(decompress) '\(data)' > '\(dir)/plain.dump' && \(TestServer.pgBin)/pg_restore --list '\(dir)/plain.dump'"
        ).stdout
        #expect(listing.contains("TABLE DATA public rental"))
        let calls = String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self)
        #expect(calls.contains("exec -T db pg_dump"), "\(calls)")
        #expect(calls.contains("--username=postgres"), "the user defaults to POSTGRES_USER")
        #expect(calls.contains("-f /srv/app/compose.yml --project-directory /srv/app"))
    }

    /// The cron job for a compose deployment: the service, files and project come from the config.
    @Test func runTakesTheServiceFromTheConfig() throws {
        let (bin, log) = try standIn(command: "docker")
        let dir = TestServer.tempDir("dcrun")
        try FileSystem.writePrivateFile(
            dir + "/pgkeep.toml",
            data: Data(
                """
                [backup]
                dir = "backups"

                [docker_compose]
                service = "db"
                files = ["compose.yml"]
                project_directory = "/srv/app"
                """.utf8))
        var env = TestServer.connectionEnv
        env["PATH"] = bin + ":" + env["PATH"]!
        for k in ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD"] { env[k] = nil }
        let run = try TestServer.pgkeep(["run", "--config", dir + "/pgkeep.toml", "--quiet"], env: env)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.isEmpty)
        let (_, manifest) = try #require(try TestServer.manifests(dir + "/backups").first)
        #expect(manifest.database == TestServer.pagila, "the service's POSTGRES_DB")
        let calls = String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self)
        #expect(
            calls.contains("compose -f \(dir)/compose.yml --project-directory /srv/app exec -T db pg_dump"), "\(calls)")
    }

    @Test func snapshotInsideTheService() throws {
        let (bin, log) = try standIn(command: "docker")
        let dir = TestServer.tempDir("dcsnap")
        let env = composeEnv(bin)
        let refused = try TestServer.pgkeep(["snapshot", "--docker-compose", "db", "--dir", dir], env: env)
        #expect(refused.status == ExitCodes.usage, "a drill needs a server reachable from here: \(refused.stderr)")
        let run = try TestServer.pgkeep(["snapshot", "--docker-compose", "db", "--dir", dir, "--no-drill"], env: env)
        #expect(run.status == 0, "\(run.stderr)")
        let manifests = try TestServer.manifests(dir)
        #expect(
            manifests.contains { $0.manifest.format == .globals }
                && manifests.contains { $0.manifest.database == TestServer.pagila })
        #expect(manifests.allSatisfy { $0.manifest.pinned })
        let calls = String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self)
        #expect(calls.contains("exec -T db pg_dumpall"), "\(calls)")
    }

    @Test func passwordGoesByNameOnly() throws {
        let (bin, log) = try standIn(command: "docker")
        let secret = "Dc-\(UUID().uuidString)"
        var env = TestServer.connectionEnv
        env["PATH"] = bin + ":" + env["PATH"]!
        for k in ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD"] { env[k] = nil }
        env["DATABASE_URL"] = "postgresql://postgres:\(secret)@localhost/\(TestServer.pagila)"
        let run = try TestServer.pgkeep(
            ["backup", "--docker-compose", "db", "--dir", TestServer.tempDir("dcpw")], env: env)
        #expect(run.status == 0, "\(run.stderr)")
        let calls = String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self)
        #expect(calls.contains("exec -T -e PGPASSWORD db"), "\(calls)")
        #expect(!calls.contains(secret))
        #expect(!run.stderr.contains(secret))
    }

    @Test func aStoppedServiceIsAPreflightError() throws {
        let (bin, _) = try standIn(command: "docker")
        var env = TestServer.connectionEnv
        env["PATH"] = bin + ":" + env["PATH"]!
        let dir = TestServer.tempDir("dcstop") + "/b"
        let run = try TestServer.pgkeep(["backup", "--docker-compose", "web", "--dir", dir], env: env)
        #expect(run.status == ExitCodes.preflight, "\(run.stderr)")
        #expect(run.stderr.contains("docker compose service \"web\""), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir))
    }

    func composeEnv(_ bin: String, _ extra: [String: String] = [:]) -> [String: String] {
        var env = TestServer.connectionEnv
        env["PATH"] = bin + ":" + env["PATH"]!
        for k in ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD"] { env[k] = nil }
        return env.merging(extra) { $1 }
    }

    @Test(arguments: [("docker", "gzip"), ("docker-compose", "gzip"), ("docker", "zstd")])
    func restoreRunsInsideTheServiceAfterCheckingTheCopy(command: String, codec: String) throws {
        let (bin, log) = try standIn(command: command)
        let dir = TestServer.tempDir("dcr")
        #expect(
            try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir, "--compress", codec]).status == 0)
        let manifest = try #require(try TestServer.manifests(dir).first).path
        let composeCommand = command == "docker" ? "docker compose" : "docker-compose"

        // Full restore into the container's POSTGRES_DB.
        let target = TestServer.uniqueName("dc_full")
        try TestServer.createDatabase(target)
        defer { TestServer.dropDatabase(target) }
        let run = try TestServer.pgkeep(
            ["restore", manifest, "--docker-compose", "db", "--compose-command", composeCommand],
            env: composeEnv(bin, ["STANDIN_DB": target]))
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try TestServer.schema(target) == TestServer.schema(TestServer.pagila))
        #expect(try TestServer.rowCounts(target) == TestServer.rowCounts(TestServer.pagila))
        let calls = String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self)
        #expect(calls.contains("exec -T db dd of=/tmp/pgkeep-restore-"), "the backup is copied in")
        #expect(calls.contains("exec -T db sha256sum /tmp/pgkeep-restore-"), "and checked inside the container")
        #expect(
            calls.contains("exec -T db pg_restore --file=- "), "the container's pg_restore reads the copy: \(calls)")
        #expect(
            calls.contains("exec -T db psql --username=postgres --dbname=\(target)"),
            "the container's psql restores it: \(calls)")
        #expect(calls.contains("exec -T db rm -f /tmp/pgkeep-restore-"), "and removed afterwards")
        let leftovers =
            (try? FileManager.default.contentsOfDirectory(atPath: "/tmp"))?.filter { $0.hasPrefix("pgkeep-restore-") }
            ?? []
        #expect(leftovers.isEmpty, "\(leftovers)")

        // One table, into a database given by name.
        let partial = TestServer.uniqueName("dc_table")
        defer { TestServer.dropDatabase(partial) }
        let one = try TestServer.pgkeep(
            [
                "restore", manifest, "--docker-compose", "db", "--compose-command", composeCommand,
                "-d", partial, "--create", "--table", "actor",
            ], env: composeEnv(bin))
        #expect(one.status == 0, "\(one.stderr)")
        #expect(
            try TestServer.psql(partial, "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public'")
                == "actor")
        #expect(try TestServer.psql(partial, "SELECT count(*) FROM actor") == "200")
    }

    @Test func aCorruptedCopyInTheContainerIsRefused() throws {
        let (bin, _) = try standIn(command: "docker")
        let dir = TestServer.tempDir("dcbad")
        #expect(try TestServer.pgkeep(["backup", "-d", TestServer.pagila, "--dir", dir]).status == 0)
        let manifest = try #require(try TestServer.manifests(dir).first).path
        let target = TestServer.uniqueName("dc_bad")
        try TestServer.createDatabase(target)
        defer { TestServer.dropDatabase(target) }
        let run = try TestServer.pgkeep(
            ["restore", manifest, "--docker-compose", "db"],
            env: composeEnv(bin, ["STANDIN_DB": target, "STANDIN_CORRUPT": "1"]))
        #expect(run.status == ExitCodes.failure, "\(run.stderr)")
        #expect(run.stderr.contains("does not match what was sent"), "\(run.stderr)")
        #expect(try TestServer.rowCounts(target).isEmpty)
    }
}
