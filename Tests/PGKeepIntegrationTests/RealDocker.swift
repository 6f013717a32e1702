import Foundation
import Testing

@testable import PGKeep

/// The Docker Engine Scripts/test.sh starts (its own dockerd, DOCKER_HOST on its own socket) and
/// the PostgreSQL images it makes there (`Scripts/docker-engine.sh`).
enum RealDocker {
    static let env = TestServer.env
    static var available: Bool { env["PGKEEP_TEST_DOCKER_HOST"] != nil }
    /// Whether the real-engine suites run: the engine is there, or CI requires it.
    static var enabled: Bool { (available || TestServer.required) && TestServer.enabled }
    static var host: String { env["PGKEEP_TEST_DOCKER_HOST"] ?? "unix:///var/run/docker.sock" }
    static var image15: String { env["PGKEEP_TEST_PG15_IMAGE"] ?? "postgres:15" }
    static var image16: String { env["PGKEEP_TEST_PG16_IMAGE"] ?? "postgres:16" }
    /// The standalone compose (Debian's docker-compose 1.29; Debian 12 has no compose plugin).
    static let composeCommand = "docker-compose"

    /// pgkeep's environment for a service: no PG* connection variables (the container has its
    /// own), the engine's socket.
    static var pgkeepEnv: [String: String] {
        var e = TestServer.connectionEnv
        for k in ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD"] { e[k] = nil }
        e["DOCKER_HOST"] = host
        return e
    }

    /// `docker ARGS` (the client on PATH, talking to the test engine).
    @discardableResult
    static func docker(_ args: [String], check: Bool = true, pollTimeout: TimeInterval? = nil) throws -> TestServer.Run
    {
        let path = Command.find("docker", environment: pgkeepEnv) ?? "/usr/bin/docker"
        let r = try TestServer.run(path, args, env: pgkeepEnv, pollTimeout: pollTimeout)
        if check && r.status != 0 {
            throw PGKeepError(.backup, "docker \(args.joined(separator: " ")) failed: \(r.stderr)")
        }
        return r
    }
}

/// A docker compose project in a private temporary directory: PostgreSQL services (no network:
/// pgkeep reaches them only through `exec`), brought up once and shared by a suite's tests.
final class ComposeProject: @unchecked Sendable {
    let dir: String
    private var containers: [String: String] = [:]

    /// A service: its image, POSTGRES_DB, and a command instead of the server (one whose
    /// PostgreSQL is not running).
    struct Service {
        var image: String
        var database: String
        var command: [String]? = nil
    }

    init(_ services: [String: Service]) throws {
        dir = TestServer.tempDir("compose")
        chmod(dir, 0o700)
        var yml = "version: \"2.4\"\nservices:\n"
        for (name, s) in services.sorted(by: { $0.key < $1.key }) {
            yml += """
                  \(name):
                    image: \(s.image)
                    network_mode: none
                    stop_signal: SIGINT
                    environment:
                      POSTGRES_PASSWORD: \(TestServer.password)
                      POSTGRES_DB: \(s.database)

                """
            if let command = s.command {
                yml += "    command: [\(command.map { "\"\($0)\"" }.joined(separator: ", "))]\n"
            }
        }
        try FileSystem.writePrivateFile(dir + "/docker-compose.yml", data: Data(yml.utf8))
        let up = try compose(["up", "-d"])
        guard up.status == 0 else { throw PGKeepError(.backup, "docker-compose up failed: \(up.stderr)") }
        for (name, s) in services {
            let id = try compose(["ps", "-q", name]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            containers[name] = id
            if s.command == nil { try waitReady(name) }
        }
    }

    /// `docker-compose ARGS` in the project.
    @discardableResult
    func compose(_ args: [String]) throws -> TestServer.Run {
        let path =
            Command.find(RealDocker.composeCommand, environment: RealDocker.pgkeepEnv) ?? "/usr/bin/docker-compose"
        return try TestServer.run(
            path, ["--project-directory", dir, "-f", dir + "/docker-compose.yml"] + args, env: RealDocker.pgkeepEnv)
    }

    /// pgkeep's options for `service` of this project.
    func options(_ service: String) -> [String] { ["--docker-compose", service] + files }

    /// The compose file and command (for copy and compare, whose sides name their services).
    var files: [String] {
        ["--compose-file", dir + "/docker-compose.yml", "--compose-command", RealDocker.composeCommand]
    }

    func container(_ service: String) -> String { containers[service] ?? service }

    /// Waits until the service's PostgreSQL accepts connections on its socket (60 s at most).
    func waitReady(_ service: String) throws {
        for _ in 0..<300 {
            let r = try RealDocker.docker(
                [
                    "exec", container(service), "psql", "-X", "-At", "-U", "postgres", "-d", "postgres", "-c",
                    "SELECT 1",
                ],
                check: false)
            if r.status == 0 { return }
            usleep(200_000)
        }
        throw PGKeepError(.backup, "service \(service) did not become ready")
    }

    /// psql in the service as postgres over its socket: the answer, trimmed.
    /// `pollTimeout`: for a poll, a `docker exec` that has not returned by then is killed and fails
    /// (in CI a client once hung 300 s on a query of pg_stat_activity).
    func psql(_ service: String, _ database: String, _ sql: String, pollTimeout: TimeInterval? = nil) throws -> String {
        let r = try RealDocker.docker(
            [
                "exec", container(service), "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d",
                database, "-c", sql,
            ], pollTimeout: pollTimeout)
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Drops `database` in the service (a test's own, so that later runs over every database stay small).
    func dropDatabase(_ service: String, _ database: String) {
        _ = try? psql(service, "postgres", "DROP DATABASE IF EXISTS \"\(database)\" WITH (FORCE)")
    }

    /// Copies `database` of the host's 15 server into the service (created there if needed).
    func load(_ service: String, _ database: String, from hostDatabase: String) throws {
        if try psql(service, "postgres", "SELECT count(*) FROM pg_database WHERE datname = '\(database)'") == "0" {
            _ = try psql(service, "postgres", "CREATE DATABASE \"\(database)\"")
        }
        let c = container(service)
        let docker = Command.find("docker", environment: RealDocker.pgkeepEnv) ?? "/usr/bin/docker"
        try TestServer.shell(
            "DOCKER_HOST='\(RealDocker.host)' \(TestServer.pgBin)/pg_dump -d \(hostDatabase) | "
                + "'\(docker)' exec -i \(c) psql -X -q -U postgres -d \(database) -v ON_ERROR_STOP=1 > /dev/null")
    }

    /// Exact row counts of every table of `database` in the service (no XML functions: the 16
    /// image's server is built without libxml).
    func rowCounts(_ service: String, _ database: String) throws -> [String: Int] {
        let text = try psql(
            service, database,
            """
            CREATE FUNCTION pg_temp.rows(t regclass) RETURNS bigint LANGUAGE plpgsql AS $f$
              DECLARE n bigint; BEGIN EXECUTE 'SELECT count(*) FROM ' || t INTO n; RETURN n; END $f$;
            SELECT format('%I.%I', n.nspname, c.relname) || '=' || pg_temp.rows(c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1
            """)
        var counts: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=")
            if parts.count == 2 { counts[String(parts[0])] = Int(parts[1]) }
        }
        return counts
    }

    /// Processes in the service's container that a pgkeep started (its PGAPPNAME in their
    /// environment), read from this machine's /proc: pid and name.
    func pids(_ service: String, of pgkeepPID: Int32) -> [(pid: Int32, name: String)] {
        let id = container(service)
        let mark = Data("PGAPPNAME=pgkeep-\(pgkeepPID)-".utf8)
        return ProcScan.all().compactMap { pid in
            guard let cgroup = ProcScan.read(pid, "cgroup"), String(decoding: cgroup, as: UTF8.self).contains(id),
                let environ = ProcScan.read(pid, "environ"), environ.range(of: mark) != nil, TestServer.alive(pid),
                let comm = ProcScan.read(pid, "comm")
            else { return nil }
            return (pid, String(decoding: comm, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    func processes(_ service: String, of pgkeepPID: Int32) -> [String] { pids(service, of: pgkeepPID).map(\.name) }

    /// The server backends of a pgkeep (its application_name) in the service.
    func backends(_ service: String, of pgkeepPID: Int32) throws -> Int {
        Int(
            try psql(
                service, "postgres",
                "SELECT count(*) FROM pg_stat_activity WHERE \(TestServer.appName(pgkeepPID))"
            )) ?? -1
    }

    /// pgkeep's files in the container's /tmp (its markers and copies).
    func leftFiles(_ service: String) throws -> [String] {
        try RealDocker.docker(["exec", container(service), "ls", "-A", "/tmp"]).stdout.split(separator: "\n")
            .map(String.init).filter { $0.contains("pgkeep") }
    }

    /// What a pgkeep left in the service: its processes, backends and files, and any crash of the
    /// server it caused (empty when nothing).
    func leftovers(_ service: String, of pgkeepPID: Int32) throws -> [String] {
        let backends = try backends(service, of: pgkeepPID)
        return processes(service, of: pgkeepPID) + (backends == 0 ? [] : ["\(backends) backends"])
            + (try leftFiles(service)) + (try crashes(service))
    }

    /// The server's log lines that tell of a child it reaped dying by a signal: a killed backend,
    /// or a process reparented to the postmaster (the container's PID 1) and killed there; each
    /// makes the server restart every session.
    func crashes(_ service: String) throws -> [String] {
        let log = try RealDocker.docker(["logs", container(service)])
        return (log.stdout + log.stderr).split(separator: "\n").filter { $0.contains("was terminated by signal") }
            .map(String.init)
    }

    /// Polls `leftovers` for up to `seconds`: what is still there at the end.
    func leftoversAfter(_ service: String, of pgkeepPID: Int32, seconds: Double = 5) throws -> [String] {
        let deadline = Date().addingTimeInterval(seconds)
        var left = try leftovers(service, of: pgkeepPID)
        while !left.isEmpty && Date() < deadline {
            usleep(100_000)
            left = try leftovers(service, of: pgkeepPID)
        }
        return left
    }

    /// `pg_dump --schema-only` of `database` in the service, without pg_dump's random \restrict lines.
    func schema(_ service: String, _ database: String) throws -> String {
        let r = try RealDocker.docker([
            "exec", container(service), "pg_dump", "-U", "postgres", "--schema-only", "-d", database,
        ])
        return r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("\\restrict") && !$0.hasPrefix("\\unrestrict") }
            .joined(separator: "\n")
    }
}

extension RealDocker {
    /// The project the compose suites share, up once per test run: `db` (PostgreSQL 15, Pagila
    /// as its POSTGRES_DB), `new` (16, POSTGRES_DB app) and `nopg` (the 15 image, its
    /// PostgreSQL not running).
    static let shared: Result<ComposeProject, any Error> = Result {
        let p = try ComposeProject([
            "db": .init(image: image15, database: TestServer.pagila),
            "new": .init(image: image16, database: "app"),
            "nopg": .init(image: image15, database: "app", command: ["sleep", "100000"]),
        ])
        try p.load("db", TestServer.pagila, from: TestServer.pagila)
        return p
    }

    static func project() throws -> ComposeProject { try shared.get() }
}
