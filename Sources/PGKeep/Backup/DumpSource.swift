import Foundation

/// What a backup learns before it creates any file.
public struct Preflight: Sendable {
    public var server: ServerInfo
    public var pgDumpVersion: ToolVersion
    /// The pg_restore that verifies archives (nil when it runs inside a container).
    public var pgRestoreVersion: ToolVersion?
    /// Where that pg_dump is (nil inside a container).
    public var pgDumpPath: String?
}

/// Where pg_dump runs: on this machine against a server reached through libpq, or inside a
/// docker compose service. The backup job only sees commands and their streams.
public protocol DumpSource: AnyObject {
    /// A connection string or service description for messages and manifests (password masked).
    var displaySource: String { get }
    /// Connects, reads the server's version and pg_dump's, and refuses an old pg_dump.
    func preflight(database: String?) throws -> Preflight
    /// Every database that accepts connections, templates excluded.
    func listDatabases() throws -> [String]
    /// Their sizes in bytes, for `--parallel` to start the largest first.
    func databaseSizes() throws -> [String: Int64]
    /// pg_dump with these options for `database`, writing to stdout (or to `--file` when given).
    func pgDump(database: String, options: [String]) throws -> Command
    /// pg_dumpall --globals-only, writing to stdout.
    func pgDumpallGlobals() throws -> Command
    /// `pg_restore --list` reading an archive from stdin (nil input) or from a local path.
    func pgRestoreList(path: String?) throws -> Command
    /// Releases the private passfile, if any.
    func close()

    // What a job may ask of where the tools run, so that it never asks which source it holds.

    /// The database `--all` reads the server from (nil: the source's own default).
    var maintenanceDatabase: String? { get }
    /// pg_dump writes its files on this machine (the directory format needs it).
    var writesFilesHere: Bool { get }
    /// What the manifest records of the container (nil on this machine).
    var composeRecord: Manifest.DockerCompose? { get }
    /// A watch on the server for pgkeep's sessions (nil where none can be kept).
    func serverWatch(database: String) -> ServerWatch?
    /// A session counting rows in the snapshot pg_dump will import (`--row-counts`).
    func snapshotCounts(database: String) throws -> SnapshotCounts
}

extension DumpSource {
    public var maintenanceDatabase: String? { nil }
    public var writesFilesHere: Bool { false }
    public var composeRecord: Manifest.DockerCompose? { nil }
    public func serverWatch(database: String) -> ServerWatch? { nil }
    public func snapshotCounts(database: String) throws -> SnapshotCounts {
        throw PGKeepError(.usage, "--row-counts is not available with --docker-compose yet")
    }
}

/// Refuses a pg_dump older than the server: it cannot dump it reliably.
func checkDumpVersion(_ dump: ToolVersion, server: ServerInfo, dumpPath: String, found: String = "") throws {
    if dump.majorKey < server.majorKey {
        throw PGKeepError(
            .preflight,
            "pg_dump \(dump) is older than the server (PostgreSQL \(server.version)); an older pg_dump cannot dump a "
                + "newer server" + (found.isEmpty ? "" : " (\(found))"),
            command: dumpPath,
            hint:
                "install a pg_dump of major version \(server.majorKey / 100) or newer and pass its directory with "
                + "--pg-bin (or PGKEEP_PG_BIN)"
        )
    }
}

/// Refuses a pg_restore older than pg_dump: it cannot read the archives pg_dump writes, so
/// verification would fail after the whole dump.
func checkRestoreVersion(_ restore: ToolVersion, dump: ToolVersion, restorePath: String) throws {
    if restore.majorKey < dump.majorKey {
        throw PGKeepError(
            .preflight,
            "pg_restore \(restore) is older than pg_dump \(dump) and cannot read its archives, which pgkeep needs to "
                + "verify them",
            command: restorePath,
            hint:
                "use client tools of one version: --pg-bin /usr/lib/postgresql/\(dump.majorKey / 100)/bin (or "
                + "PGKEEP_PG_BIN)"
        )
    }
}

/// pg_dump and friends on this machine, connected with a `ConnectionSpec`.
public final class LocalDumpSource: DumpSource {
    public let spec: ConnectionSpec
    public let tools: PostgresTools
    private let env: ChildEnvironment
    /// pg_dump's and pg_restore's versions, read once per run (`--all` preflights every database).
    private var toolVersions: (dump: ToolVersion, restore: ToolVersion)?

    public init(
        spec: ConnectionSpec, tools: PostgresTools, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        self.spec = spec
        self.tools = tools
        self.env = try ChildEnvironment(spec: spec, base: environment)
    }

    public var displaySource: String { spec.displayURI() }
    public var maintenanceDatabase: String? { spec.database ?? "postgres" }
    public var writesFilesHere: Bool { true }
    public func serverWatch(database: String) -> ServerWatch? {
        let watch = ServerWatch(spec: spec, database: database)
        watch.onlyItsDatabase = true
        return watch
    }
    public func snapshotCounts(database: String) throws -> SnapshotCounts {
        try SnapshotCounts(spec: spec, database: database)
    }

    public func preflight(database: String?) throws -> Preflight {
        let dumpPath = try tools.path(of: "pg_dump")
        let (dumpVersion, restoreVersion) =
            try toolVersions
            ?? {
                let restorePath = try tools.path(of: "pg_restore")
                let versions = (
                    try tools.version(of: dumpPath, environment: env.environment),
                    try tools.version(of: restorePath, environment: env.environment)
                )
                try checkRestoreVersion(versions.1, dump: versions.0, restorePath: restorePath)
                return versions
            }()
        toolVersions = (dumpVersion, restoreVersion)
        let connection = try PostgresConnection(spec: spec, database: database)
        let server = try connection.serverInfo()
        try checkDumpVersion(dumpVersion, server: server, dumpPath: dumpPath, found: tools.foundText)
        return Preflight(
            server: server, pgDumpVersion: dumpVersion, pgRestoreVersion: restoreVersion, pgDumpPath: dumpPath)
    }

    public func listDatabases() throws -> [String] {
        // --all connects to the maintenance database unless one was named.
        let connection = try PostgresConnection(spec: spec, database: spec.database ?? "postgres")
        return try connection.connectableDatabases()
    }

    public func databaseSizes() throws -> [String: Int64] {
        let connection = try PostgresConnection(spec: spec, database: spec.database ?? "postgres")
        return DumpSources.sizes(try connection.query(SQL.databaseSizes))
    }

    public func pgDump(database: String, options: [String]) throws -> Command {
        Command(
            executable: try tools.path(of: "pg_dump"),
            arguments: ["--dbname=" + spec.conninfo(overridingDatabase: database), "--no-password"] + options,
            environment: env.environment)
    }

    public func pgDumpallGlobals() throws -> Command {
        var args = [
            "--dbname=" + spec.conninfo(overridingDatabase: spec.database ?? "postgres"), "--no-password",
            "--globals-only",
        ]
        args.removeAll { $0.isEmpty }
        return Command(executable: try tools.path(of: "pg_dumpall"), arguments: args, environment: env.environment)
    }

    public func pgRestoreList(path: String?) throws -> Command {
        Command(
            executable: try tools.path(of: "pg_restore"), arguments: ["--list"] + (path.map { [$0] } ?? []),
            environment: env.environment)
    }

    public func close() { env.remove() }
}

enum DumpSources {
    /// `SQL.databaseSizes`' rows as a dictionary.
    static func sizes(_ rows: [[String?]]) -> [String: Int64] {
        var sizes: [String: Int64] = [:]
        for row in rows { if let name = row[0] { sizes[name] = row[1].flatMap { Int64($0) } ?? 0 } }
        return sizes
    }
}
