import Foundation

/// One database on one side of a copy or compare: on a server reached through libpq (queries and
/// sessions in this process, the chosen client tools with a private passfile), or inside a docker
/// compose service (psql sessions held open with `exec -T`, the container's own pg_dump, psql and
/// vacuumdb). Archives pgkeep wrote are always read by this machine's pg_restore (`archiveTool`).
public final class DatabaseSide {
    public let spec: ConnectionSpec
    public let database: String
    /// This machine's client tools, connected with `spec`.
    let local: LocalRestoreEndpoint
    /// The docker compose service the database lives in, if any.
    let compose: DockerComposeRestoreEndpoint?

    public init(
        spec: ConnectionSpec, database: String, tools: PostgresTools, environment: [String: String],
        compose: DockerComposeOptions? = nil
    ) throws {
        self.spec = spec
        self.database = database
        local = try LocalRestoreEndpoint(spec: spec, tools: tools, environment: environment)
        self.compose = try compose.map {
            try DockerComposeRestoreEndpoint(options: $0, spec: spec, environment: environment)
        }
    }

    var endpoint: any RestoreEndpoint { compose ?? local }

    public var display: String { endpoint.describe(database: database) }

    /// A session in `database` (default: this side's).
    func connect(_ database: String? = nil) throws -> any SQLSession {
        try endpoint.session(database: database ?? self.database)
    }

    /// The server's version, read in the maintenance database (the side's database may not exist yet).
    func serverInfo() throws -> ServerInfo {
        let rows = try maintenance(
            SQL.serverInfo)
        guard let row = rows.first, row.count == 4, let number = Int(row[0] ?? "") else {
            throw PGKeepError(.preflight, "unexpected answer to a version query from \(display)")
        }
        return ServerInfo(versionNumber: number, version: row[1] ?? "", database: database, user: row[3] ?? "")
    }

    /// Every database of the server that accepts connections, templates excluded.
    public func connectableDatabases() throws -> [String] {
        try maintenance(SQL.connectableDatabases).compactMap { $0.first ?? nil }
    }

    /// A query in the maintenance database (postgres, else template1).
    func maintenance(_ sql: String) throws -> [[String?]] {
        do { return try endpoint.query(sql, database: "postgres") } catch {
            return try endpoint.query(sql, database: "template1")
        }
    }

    /// Runs a client tool where this side's server is (connected to `database` when given) and
    /// returns its stdout; throws with its stderr. `input` feeds its stdin from a file; `output`
    /// takes its stdout into a new private file instead.
    @discardableResult
    func run(
        _ tool: String, database: String?, arguments: [String], input: String? = nil, output: String? = nil,
        what: String
    ) throws -> Data {
        try Self.capture(
            try endpoint.tool(tool, database: database, arguments: arguments), input: input, output: output, what: what)
    }

    /// Runs one of this machine's client tools (pg_restore reading an archive pgkeep wrote).
    @discardableResult
    func archiveTool(_ tool: String, arguments: [String], output: String? = nil, what: String) throws -> Data {
        try Self.capture(
            try local.tool(tool, database: nil, arguments: arguments), input: nil, output: output, what: what)
    }

    private static func capture(_ command: Command, input: String?, output: String?, what: String) throws -> Data {
        var (inFD, outFD): (Int32, Int32) = (-1, -1)
        defer {
            if inFD >= 0 { Foundation.close(inFD) }
            if outFD >= 0 { Foundation.close(outFD) }
        }
        if let input {
            inFD = open(input, O_RDONLY | O_CLOEXEC)
            guard inFD >= 0 else { throw PGKeepError(.backup, "cannot open \(input): \(errnoText())") }
        }
        guard let output else {
            let (out, result) = try ChildProcess.capture(command, stdin: inFD >= 0 ? .fileDescriptor(inFD) : .null)
            guard result.succeeded else { throw result.failure(what) }
            return out
        }
        outFD = try FileSystem.createPrivateFile(output)
        let child = ChildProcess(
            command, stdin: inFD >= 0 ? .fileDescriptor(inFD) : .null, stdout: .fileDescriptor(outFD))
        try child.start()
        let result = child.wait()
        guard result.succeeded else { throw result.failure(what) }
        return Data()
    }

    /// `count` sessions in `database`, each in a read-only REPEATABLE READ transaction on one
    /// snapshot (`snapshot`, else one the first exports), with the stable output settings.
    func sessions(_ database: String? = nil, count: Int, snapshot: String?) throws -> [any SQLSession] {
        var shared = snapshot
        return try (0..<max(1, count)).map { _ in
            let session = try endpoint.session(database: database ?? self.database)
            try SnapshotSession.begin(session, snapshot: &shared)
            return session
        }
    }

    /// The data workers' source ends, reading in `snapshot`.
    func sourceEnds(count: Int, snapshot: String) throws -> [any CopySourceEnd] {
        try endpoint.copySources(database: database, count: count, snapshot: snapshot)
    }

    /// The data workers' target ends, loading into `database`.
    func targetEnds(_ database: String, count: Int) throws -> [any CopyTargetEnd] {
        try endpoint.copyTargets(database: database, count: count)
    }

    public func close() {
        local.cleanUp()
        compose?.cleanUp()
    }
}
