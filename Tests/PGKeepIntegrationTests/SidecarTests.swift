import Foundation
import Testing

@testable import PGKeep

/// Examples/docker-compose.yml as it is, brought up on the real engine with the pgkeep image
/// (`Scripts/image.sh`, PGKEEP_TEST_IMAGE) and the PostgreSQL 15 image: `pgkeep daemon` in the
/// sidecar, configured by environment variables and the compose secret only. `docker compose stop`
/// in the middle of a backup leaves no partial backup and no session; the daemon then catches up,
/// its healthcheck turns healthy, a backup appears at the next scheduled minute, a restore from
/// inside the sidecar gives every row back, and `docker compose down` leaves nothing behind.
@Suite(
    .enabled(
        if: (RealDocker.env["PGKEEP_TEST_IMAGE"] != nil || TestServer.required) && RealDocker.enabled,
        "needs the engine and the pgkeep image Scripts/test.sh makes"), .serialized)
struct SidecarTests {
    static let rows = 1_500_000

    final class Sidecar {
        let dir = TestServer.tempDir("sidecar")
        let project = "pgkeepsidecar" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let env: [String: String]
        let password = "sidecar-\(UUID().uuidString)"

        init(image: String) throws {
            chmod(dir, 0o700)
            let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("Examples/docker-compose.yml").path
            try FileManager.default.copyItem(atPath: example, toPath: dir + "/docker-compose.yml")
            // The secret as the example says to make it: readable by pgkeep's uid only.
            let secret = dir + "/db_password.txt"
            try FileSystem.writePrivateFile(secret, data: Data((password + "\n").utf8))
            chown(secret, 10001, 10001)
            chmod(secret, 0o400)
            var e = RealDocker.pgkeepEnv
            e["POSTGRES_IMAGE"] = RealDocker.image15
            e["PGKEEP_IMAGE"] = image
            e["PGKEEP_CRON"] = "* * * * *"
            e["PGKEEP_HEALTH_INTERVAL"] = "2s"
            env = e
        }

        @discardableResult
        func compose(_ args: [String]) throws -> TestServer.Run {
            let path =
                Command.find(RealDocker.composeCommand, environment: RealDocker.pgkeepEnv) ?? "/usr/bin/docker-compose"
            return try TestServer.run(
                path, ["--project-directory", dir, "-f", dir + "/docker-compose.yml", "-p", project] + args, env: env)
        }

        func container(_ service: String) throws -> String {
            try compose(["ps", "-q", service]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func inspect(_ service: String, _ format: String) throws -> String {
            try RealDocker.docker(["inspect", "-f", format, try container(service)]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// psql in the db service as its user, over the socket.
        func psql(_ database: String, _ sql: String) throws -> String {
            try RealDocker.docker([
                "exec", try container("db"), "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-U", "app", "-d",
                database, "-c", sql,
            ]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// Every file in the backups volume, relative to its root.
        func backupFiles() throws -> [String] {
            let mount = try RealDocker.docker([
                "volume", "inspect", "-f", "{{.Mountpoint}}", project + "_pgkeep_backups",
            ]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            return TestServer.listing(mount).filter {
                var isDir: ObjCBool = false
                return FileManager.default.fileExists(atPath: mount + "/" + $0, isDirectory: &isDir) && !isDir.boolValue
            }
        }

        func pgkeepSessions() throws -> Int {
            Int(try psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgkeep%'"))
                ?? -1
        }

        func logs() throws -> String { try compose(["logs", "--no-color", "pgkeep"]).stdout }

        func waitFor(_ what: String, seconds: Double, _ check: () throws -> Bool) throws {
            let end = Date().addingTimeInterval(seconds)
            while Date() < end {
                if (try? check()) == true { return }
                Thread.sleep(forTimeInterval: 0.2)
            }
            throw PGKeepError(.backup, "timed out after \(Int(seconds)) s waiting for \(what); logs:\n\(try logs())")
        }

        func down() { _ = try? compose(["down", "-v", "--remove-orphans", "-t", "5"]) }
    }

    @Test func theExampleSidecarBacksUpOnScheduleStopsCleanlyAndRestores() throws {
        let image = try #require(RealDocker.env["PGKEEP_TEST_IMAGE"], "PGKEEP_TEST_IMAGE: the pgkeep image")
        let s = try Sidecar(image: image)
        defer { s.down() }
        // The database first, with enough data that a backup takes seconds.
        #expect(try s.compose(["up", "-d", "--no-build", "db"]).status == 0)
        try s.waitFor("db healthy", seconds: 90) { try s.inspect("db", "{{.State.Health.Status}}") == "healthy" }
        _ = try s.psql(
            "app",
            "CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 4) AS payload FROM generate_series(1, \(Self.rows)) g;"
                + "CREATE TABLE small (id int PRIMARY KEY, note text); INSERT INTO small VALUES (1, 'one'), (2, 'two')")

        // The daemon starts, finds no backup and runs at once; stopped in the middle of its pg_dump.
        #expect(try s.compose(["up", "-d", "--no-build", "pgkeep"]).status == 0)
        try s.waitFor("pgkeep's COPY on the server", seconds: 60) {
            try s.psql(
                "postgres",
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgkeep-%' AND query LIKE 'COPY %'")
                != "0"
        }
        let stopping = Date()
        #expect(try s.compose(["stop", "pgkeep"]).status == 0)
        let took = Date().timeIntervalSince(stopping)
        #expect(took < 9, "docker stop waited \(took) s: the daemon did not end within the grace")
        #expect(try s.inspect("pgkeep", "{{.State.ExitCode}}") == "143")
        try s.waitFor("no pgkeep session on the server", seconds: 5) { try s.pgkeepSessions() == 0 }
        // Nothing but the directory's lock file (flock, kept by design) and the attempt log.
        let afterStop = try s.backupFiles().filter {
            ![".pgkeep.lock", ".pgkeep-attempts.json", ".pgkeep-attempts.lock"].contains($0)
        }
        #expect(afterStop == [], "a stopped backup leaves nothing in the volume: \(afterStop)")
        #expect(try s.logs().contains("run started"))

        // Started again: it catches up, the healthcheck turns healthy.
        #expect(try s.compose(["start", "pgkeep"]).status == 0)
        try s.waitFor("a backup", seconds: 120) { try s.backupFiles().contains { $0.hasSuffix(".manifest.json") } }
        try s.waitFor("pgkeep healthy", seconds: 30) {
            try s.inspect("pgkeep", "{{.State.Health.Status}}") == "healthy"
        }
        // The next minute's run, on schedule.
        try s.waitFor("the scheduled run", seconds: 90) {
            try s.logs().components(separatedBy: "run finished: ok").count - 1 >= 2
        }
        let logs = try s.logs()
        #expect(logs.contains("next run at"), "\(logs)")
        #expect(!logs.contains(s.password), "no password in the log")
        let files = try s.backupFiles()
        #expect(files.contains { $0.hasPrefix("app/") && $0.hasSuffix(".dump.gz") }, "\(files)")
        #expect(!files.contains { $0.contains(".pgkeep-tmp") }, "\(files)")

        // A restore from inside the sidecar: every row back.
        let restore = try s.compose([
            "exec", "-T", "pgkeep", "pgkeep", "restore", "--latest", "--database", "app", "--dbname", "app_copy",
            "--create", "--verify",
        ])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(try s.psql("app_copy", "SELECT count(*) FROM big") == String(Self.rows))
        #expect(try s.psql("app_copy", "SELECT string_agg(note, ',' ORDER BY id) FROM small") == "one,two")

        // Down: no container, network or volume of the project is left.
        #expect(try s.compose(["down", "-v", "-t", "5"]).status == 0)
        let label = "label=com.docker.compose.project=\(s.project)"
        #expect(try RealDocker.docker(["ps", "-aq", "--filter", label]).stdout.isEmpty)
        #expect(try RealDocker.docker(["network", "ls", "-q", "--filter", label]).stdout.isEmpty)
        #expect(try RealDocker.docker(["volume", "ls", "-q", "--filter", label]).stdout.isEmpty)
    }
}
