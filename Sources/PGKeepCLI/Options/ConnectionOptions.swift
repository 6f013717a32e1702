import ArgumentParser
import Foundation
import PGKeep

/// Where the server is: the same options as pg_dump, plus PG* variables, ~/.pgpass, and
/// POSTGRESQL_URI / DATABASE_URL when nothing else names a server.
struct ConnectionOptions: ParsableArguments {
    /// A database name, a URI (postgresql://user:pass@host:port/db?sslmode=require) or a conninfo string.
    @Option(
        name: [.customShort("d"), .long],
        help: ArgumentHelp("Database name, postgresql:// URI, or conninfo string.", valueName: "dbname"))
    var dbname: String?

    /// Server host or socket directory.
    @Option(name: [.customShort("h"), .long], help: "Server host name or socket directory.")
    var host: String?

    /// Server port.
    @Option(name: [.customShort("p"), .long], help: "Server port.")
    var port: String?

    /// Role to connect as.
    @Option(name: [.customShort("U"), .long], help: "User name to connect as.")
    var username: String?

    /// Directory holding pg_dump, pg_restore, psql and pg_dumpall.
    @Option(
        name: .customLong("pg-bin"),
        help: ArgumentHelp(
            "Directory of the PostgreSQL client tools (default: PGKEEP_PG_BIN, then PATH).", valueName: "dir"))
    var pgBin: String?

    var flags: ConnectionFlags { ConnectionFlags(dbname: dbname, host: host, port: port, username: username) }

    func validate() throws {
        if let port, !port.isEmpty, Int(port).map({ !(1...65535).contains($0) }) ?? true {
            throw ValidationError("--port must be a port number 1 to 65535 (got \"\(port)\")")
        }
    }
}

/// Running pg_dump inside a docker compose service.
struct DockerComposeFlags: ParsableArguments {
    /// The compose service that runs PostgreSQL.
    @Option(
        name: .customLong("docker-compose"),
        help: ArgumentHelp("Run pg_dump inside this docker compose service (exec -T).", valueName: "service"))
    var service: String?

    @OptionGroup var project: ComposeProjectFlags

    /// The service the flags name (nil: none; the config's `[docker_compose]` may still name one).
    var flag: DockerComposeOptions? { service.map { project.options(service: $0) } }
}

/// Where docker compose finds the project: files, directory, and which compose command.
struct ComposeProjectFlags: ParsableArguments {
    /// Compose files (repeatable), as `docker compose -f`.
    @Option(name: .customLong("compose-file"), help: ArgumentHelp("Compose file (repeatable).", valueName: "file"))
    var composeFiles: [String] = []

    /// The compose project directory.
    @Option(
        name: .customLong("project-directory"), help: ArgumentHelp("Compose project directory.", valueName: "dir"))
    var projectDirectory: String?

    /// "docker compose" or "docker-compose".
    @Option(
        name: .customLong("compose-command"),
        help: ArgumentHelp("\"docker compose\" or \"docker-compose\".", valueName: "command"))
    var composeCommand: String = "docker compose"

    func options(service: String) -> DockerComposeOptions {
        DockerComposeOptions(
            service: service, composeFiles: composeFiles, projectDirectory: projectDirectory,
            composeCommand: composeCommand)
    }
}

/// How results are printed.
struct OutputOptions: ParsableArguments {
    /// Machine-readable summary on stdout.
    @Flag(help: "Print a JSON summary on stdout.")
    var json = false

    /// Nothing on success, so that cron mails only failures.
    @Flag(
        name: [.customShort("q"), .long],
        help: "Print nothing on success; on failure, one block saying what failed and what to do.")
    var quiet = false

    /// A log that outlives the terminal.
    @Option(
        name: .customLong("log-file"),
        help: ArgumentHelp("Append timestamped lines to this file (also with --quiet).", valueName: "file"))
    var logFile: String?

    /// Sets up --quiet and --log-file (flag over config) for this process.
    func apply(_ settings: Settings) throws {
        Output.quiet = settings.quiet(flag: quiet)
        if let path = settings.logFile(flag: logFile) {
            Output.log = try LogFile(path: path)
        }
    }
}
