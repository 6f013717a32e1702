import Foundation

/// How to reach a docker compose service: `docker compose` or `docker-compose`, the compose
/// files and project directory, and the service name.
public struct DockerComposeOptions: Sendable, Equatable {
    public var service: String
    public var composeFiles: [String] = []
    public var projectDirectory: String?
    /// "docker compose" (the plugin) or "docker-compose" (the standalone binary).
    public var composeCommand: String = "docker compose"

    public init(
        service: String, composeFiles: [String] = [], projectDirectory: String? = nil,
        composeCommand: String = "docker compose"
    ) {
        self.service = service
        self.composeFiles = composeFiles
        self.projectDirectory = projectDirectory
        self.composeCommand = composeCommand
    }

    /// Splits the compose command into an executable name and leading arguments.
    public func baseCommand(searchPath: [String]) throws -> (executable: String, arguments: [String]) {
        let words = composeCommand.split(separator: " ").map(String.init)
        guard let first = words.first else {
            throw PGKeepError(.usage, "--compose-command is empty; use \"docker compose\" or \"docker-compose\"")
        }
        guard let executable = Command.find(first, environment: [:], searchPath: searchPath) else {
            throw PGKeepError(
                .preflight, "\(first) not found on PATH (needed for --docker-compose)",
                hint: "install Docker with the compose plugin, or pass --compose-command docker-compose")
        }
        var args = Array(words.dropFirst())
        for file in composeFiles { args += ["-f", file] }
        if let projectDirectory { args += ["--project-directory", projectDirectory] }
        return (executable, args)
    }

    /// `exec -T [-e NAME]... SERVICE inner...`: -T, never -t, because a TTY corrupts binary output.
    /// Variables are passed by name only, so their values (a password) never reach argv.
    public func execArguments(passingEnvironment names: [String], inner: [String]) -> [String] {
        Self.exec("-T", in: service, passingEnvironment: names, inner: inner)
    }

    /// `exec FLAG [-e NAME]... TARGET inner...`, the shape `docker compose exec` and `docker exec` share.
    static func exec(_ flag: String, in target: String, passingEnvironment names: [String], inner: [String]) -> [String]
    {
        ["exec", flag] + names.flatMap { ["-e", $0] } + [target] + inner
    }
}

/// A running docker compose service: commands run in it with `exec -T`, and its POSTGRES_USER
/// and POSTGRES_DB give the defaults for user and database.
public final class DockerComposeService {
    public let options: DockerComposeOptions
    private let executable: String
    private let baseArguments: [String]
    private let searchPath: [String]
    private let environment: [String: String]
    private let explicitUser: String?
    private let explicitDatabase: String?
    private let password: String?
    /// What the first command (`prepare`) set up.
    private struct Prepared {
        /// What this process runs in the service.
        var run: ComposeRun?
        /// POSTGRES_USER and POSTGRES_DB as the container sees them.
        var containerEnv: [String: String]?
    }
    private let prepared = Locked(Prepared())
    /// The container `docker exec` reaches, once compose has named it (`prepare`).
    private let container = Locked<ComposeContainer?>(nil)

    public init(options: DockerComposeOptions, spec: ConnectionSpec, environment: [String: String]) throws {
        self.options = options
        searchPath = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        (executable, baseArguments) = try options.baseCommand(searchPath: searchPath)
        var env = environment
        env["POSTGRESQL_URI"] = nil
        env["DATABASE_URL"] = nil
        if let pw = spec.password { env["PGPASSWORD"] = pw }
        // The container's tools carry pgkeep's application_name, so its backends can be found.
        env["PGAPPNAME"] = ChildEnvironment.applicationName
        self.environment = env
        password = spec.password ?? environment["PGPASSWORD"]
        explicitUser = spec.user
        explicitDatabase = spec.database
    }

    public var name: String { options.service }

    /// `exec -T` of `inner` in the service, under the run's wrapper (`ComposeRun`), its children
    /// followed; a password is passed by name only.
    public func exec(_ inner: [String]) throws -> Command {
        let run = try prepare()
        var command = rawExec(run.wrap(inner))
        command.observer = run
        return command
    }

    /// `inner` as it is: `docker exec -i` in the container compose named, else `compose exec -T`.
    func rawExec(_ inner: [String]) -> Command {
        let names = (password != nil ? ["PGPASSWORD"] : []) + ["PGAPPNAME"]
        let (exe, arguments) =
            container.current.map { ($0.docker, $0.execArguments(passingEnvironment: names, inner: inner)) }
            ?? (executable, baseArguments + options.execArguments(passingEnvironment: names, inner: inner))
        return Command(executable: exe, arguments: arguments, environment: environment)
    }

    /// The first command in the service reads its environment (POSTGRES_USER and POSTGRES_DB) and
    /// pgkeep's markers there; the runs of a pgkeep that is gone are swept, then this run's
    /// watchdog starts.
    private func prepare() throws -> ComposeRun {
        // Held throughout: a second command waits for the first to have set the run up (nothing
        // inside takes this lock again).
        try prepared.withLock { p in
            if let run = p.run { return run }
            let compose = Command(executable: executable, arguments: baseArguments, environment: environment)
            let found = ComposeContainer.resolve(
                compose: compose, service: options.service, environment: environment, searchPath: searchPath)
            container.withLock { $0 = found }
            let token = "pgkeep-markers-" + UUID().uuidString
            let script =
                "env; echo \(token); for m in \(ComposeRun.markerPrefix)*; do [ -e \"$m\" ] && echo \"$m\"; done; :"
            let (out, result) = try ChildProcess.capture(rawExec(["sh", "-c", script]))
            let text = String(decoding: out, as: UTF8.self)
            guard result.succeeded, let cut = text.range(of: "\n" + token + "\n") else {
                throw result.failure(
                    "cannot run a command in docker compose service \"\(options.service)\"", kind: .preflight,
                    hint: "is the service running (docker compose ps)? Check --compose-file and --project-directory")
            }
            var env: [String: String] = [:]
            for line in text[..<cut.lowerBound].split(separator: "\n") {
                guard let eq = line.firstIndex(of: "=") else { continue }
                let key = String(line[..<eq])
                if key == "POSTGRES_USER" || key == "POSTGRES_DB" { env[key] = String(line[line.index(after: eq)...]) }
            }
            p.containerEnv = env
            let user = explicitUser ?? env["POSTGRES_USER"] ?? "postgres"
            let database = env["POSTGRES_DB"] ?? env["POSTGRES_USER"] ?? "postgres"
            let made = ComposeRun(sweepBase: rawExec(["sh", "-c", ComposeRun.sweepScript, "sh", user, database]))
            let dead = made.deadRuns(in: String(text[cut.upperBound...]))
            if !dead.isEmpty { _ = try? ChildProcess.capture(made.sweepCommand(for: dead)) }
            try made.arm()
            p.run = made
            return made
        }
    }

    /// POSTGRES_USER and POSTGRES_DB as the container sees them.
    private func containerEnvironment() throws -> [String: String] {
        _ = try prepare()
        return prepared.withLock { $0.containerEnv } ?? [:]
    }

    /// Stops and removes whatever this run may have left in the service (nothing to do when every
    /// command ended by itself and nothing was put there).
    public func finish() {
        prepared.withLock { $0.run }?.finish()
    }

    /// A private file in the container's /tmp, removed by `finish` or any sweep.
    func privateFile(_ name: String) throws -> String {
        let run = try prepare()
        run.markDirty()
        return run.file(name)
    }

    public func user() throws -> String {
        if let explicitUser { return explicitUser }
        return try containerEnvironment()["POSTGRES_USER"] ?? "postgres"
    }

    public func defaultDatabase() throws -> String {
        if let explicitDatabase { return explicitDatabase }
        let env = try containerEnvironment()
        return env["POSTGRES_DB"] ?? env["POSTGRES_USER"] ?? "postgres"
    }

    /// A client tool in the service, connected to `database` (when given) as the service's user.
    public func tool(_ name: String, database: String?, arguments: [String]) throws -> Command {
        let connect = try database.map { ["--username=\(try user())", "--dbname=\($0)", "--no-password"] } ?? []
        return try exec([name] + connect + arguments)
    }

    /// psql in the service, one statement: its rows (NULL as nil), read as `PsqlSession` reads them.
    public func query(_ sql: String, database: String) throws -> [[String?]] {
        let (out, res) = try ChildProcess.capture(
            tool("psql", database: database, arguments: PsqlSession.outputOptions + ["-c", sql]))
        guard res.succeeded else {
            let line = res.stderrTail(lines: 3).split(separator: "\n").last.map(String.init) ?? "\(res.termination)"
            throw PGKeepError(
                .preflight,
                "query in docker compose service \"\(options.service)\", database \"\(database)\" failed: "
                    + "\(ConnectionSpec.maskSecrets(in: line))"
            )
        }
        var text = String(decoding: out, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        return PsqlSession.rows(text)
    }
}

/// pg_dump running inside the database's own container, so its version always matches the
/// server's. User and database default to the container's POSTGRES_USER and POSTGRES_DB.
public final class DockerComposeDumpSource: DumpSource {
    public let service: DockerComposeService
    public var options: DockerComposeOptions { service.options }

    public init(
        options: DockerComposeOptions, spec: ConnectionSpec,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        service = try DockerComposeService(options: options, spec: spec, environment: environment)
    }

    public var displaySource: String { "docker compose service \(options.service)" }
    public var composeRecord: Manifest.DockerCompose? {
        .init(service: options.service, composeCommand: options.composeCommand)
    }

    public func preflight(database: String?) throws -> Preflight {
        let db = try database ?? service.defaultDatabase()
        let u = try service.user()
        let (vout, vres) = try ChildProcess.capture(try service.exec(["pg_dump", "--version"]))
        guard vres.succeeded, let dumpVersion = ToolVersion.parse(String(decoding: vout, as: UTF8.self)) else {
            throw vres.failure(
                "cannot run pg_dump in docker compose service \"\(options.service)\"", kind: .preflight,
                hint: "the service must be a PostgreSQL container with pg_dump on its PATH")
        }
        let rows: [[String?]]
        do {
            rows = try service.query(
                SQL.serverInfo,
                database: db)
        } catch let error as PGKeepError {
            throw PGKeepError(.preflight, "cannot connect to database \"\(db)\" as \"\(u)\": " + error.message)
        }
        guard let f = rows.first, f.count == 4, let num = Int(f[0] ?? "") else {
            throw PGKeepError(.preflight, "unexpected answer from psql in service \"\(options.service)\": \(rows)")
        }
        let server = ServerInfo(versionNumber: num, version: f[1] ?? "", database: f[2] ?? db, user: f[3] ?? u)
        try checkDumpVersion(dumpVersion, server: server, dumpPath: "pg_dump in service \(options.service)")
        return Preflight(server: server, pgDumpVersion: dumpVersion, pgRestoreVersion: nil)
    }

    public func listDatabases() throws -> [String] {
        try service.query(
            SQL.connectableDatabases,
            database: try service.defaultDatabase()
        ).compactMap { $0.first ?? nil }
    }

    public func databaseSizes() throws -> [String: Int64] {
        DumpSources.sizes(try service.query(SQL.databaseSizes, database: try service.defaultDatabase()))
    }

    public func pgDump(database: String, options dumpOptions: [String]) throws -> Command {
        try service.exec(
            ["pg_dump", "--no-password", "--username=\(try service.user())", "--dbname=\(database)"] + dumpOptions)
    }

    public func pgDumpallGlobals() throws -> Command {
        try service.exec([
            "pg_dumpall", "--no-password", "--username=\(try service.user())",
            "--database=\(try service.defaultDatabase())", "--globals-only",
        ])
    }

    public func pgRestoreList(path: String?) throws -> Command {
        // The container's pg_restore reads what the container's pg_dump wrote, whatever the
        // host has installed.
        try service.exec(["pg_restore", "--list"])
    }

    public func close() { service.finish() }
}
