import Foundation

/// One database on one server, for copy and compare: libpq for queries and sessions, the
/// chosen client tools (with a private passfile when the password came in a URI) for pg_dump.
public final class DatabaseSide {
    public let spec: ConnectionSpec
    public let database: String
    let endpoint: LocalRestoreEndpoint

    public init(spec: ConnectionSpec, database: String, tools: PostgresTools, environment: [String: String]) throws {
        self.spec = spec
        self.database = database
        endpoint = try LocalRestoreEndpoint(spec: spec, tools: tools, environment: environment)
    }

    public var display: String { spec.displayURI(database: database) }

    func connect(_ database: String? = nil) throws -> PostgresConnection {
        try PostgresConnection(spec: spec, database: database ?? self.database)
    }

    /// The server's version, read in the maintenance database (the side's database may not exist yet).
    func serverInfo() throws -> ServerInfo {
        do { return try connect("postgres").serverInfo() } catch { return try connect("template1").serverInfo() }
    }

    /// A query in the maintenance database (postgres, else template1).
    func maintenance(_ sql: String) throws -> [[String?]] {
        do { return try endpoint.query(sql, database: "postgres") } catch {
            return try endpoint.query(sql, database: "template1")
        }
    }

    /// Runs a client tool against this database (or none) and returns its stdout; throws with its stderr.
    func run(_ tool: String, arguments: [String], connect: Bool = true, what: String) throws -> Data {
        let command = try endpoint.tool(tool, database: connect ? database : nil, arguments: arguments)
        let (out, result) = try ChildProcess.capture(command)
        guard result.succeeded else { throw result.failure(what) }
        return out
    }

    public func close() { endpoint.cleanUp() }
}

/// `pgkeep compare A B`: row counts and checksums of every table, sequences, large objects and
/// the schema, each side read in one snapshot of its own.
public struct CompareJob {
    public var source: DatabaseSide
    public var target: DatabaseSide
    public var tools: PostgresTools
    public var jobs: Int
    public var schema: Bool

    public init(source: DatabaseSide, target: DatabaseSide, tools: PostgresTools, jobs: Int, schema: Bool = true) {
        self.source = source
        self.target = target
        self.tools = tools
        self.jobs = jobs
        self.schema = schema
    }

    public func run() throws -> Comparison {
        let servers = [try source.serverInfo(), try target.serverInfo()]
        if schema { try CopyJob.requireClient(tools, servers: servers, environment: source.endpoint.env.environment) }
        let a = try Sessions.open(source.spec, database: source.database, count: jobs, snapshot: nil)
        let b = try Sessions.open(target.spec, database: target.database, count: jobs, snapshot: nil)
        let schemas: (String, String)? =
            schema
            ? (try schemaScript(source, session: a[0]), try schemaScript(target, session: b[0])) : nil
        return try Self.compare(
            source: (source.display, a), target: (target.display, b),
            sourceSequences: try DataComparer.sequenceValues(a[0]), schemas: schemas,
            acrossVersions: servers[0].majorKey != servers[1].majorKey)
    }

    /// `pg_dump --schema-only` in the session's snapshot.
    func schemaScript(_ side: DatabaseSide, session: PostgresConnection) throws -> String {
        let snapshot = try session.query("SELECT pg_catalog.pg_export_snapshot()").first?[0] ?? nil
        let out = try side.run(
            "pg_dump", arguments: ["--schema-only", "--file=-"] + (snapshot.map { ["--snapshot=\($0)"] } ?? []),
            what: "pg_dump --schema-only of \(side.display)")
        return String(decoding: out, as: UTF8.self)
    }

    /// The comparison itself, shared with a copy's validation (whose source sequences and schema
    /// come from the archive pg_dump wrote in the copy's snapshot).
    static func compare(
        source: (String, [PostgresConnection]), target: (String, [PostgresConnection]),
        sourceSequences: [String: String?], schemas: (String, String)?, acrossVersions: Bool
    ) throws -> Comparison {
        let a = source.1
        let b = target.1
        let sourceTables = CopyCatalog.tables(try a[0].query(CopyCatalog.tablesSQL))
        let targetTables = CopyCatalog.tables(try b[0].query(CopyCatalog.tablesSQL))
        let tables = try DataComparer(source: a, target: b).tables(
            sourceTables: sourceTables, targetTables: targetTables)
        let sequences = DataComparer.sequences(
            source: sourceSequences, target: try DataComparer.sequenceValues(b[0]))
        let (loA, loB) = (DataComparer.largeObjects(a[0]), DataComparer.largeObjects(b[0]))
        let largeObjects = Comparison.LargeObjects(
            sourceCount: loA.count, targetCount: loB.count,
            checksumMatch: loA.checksum != nil && loB.checksum != nil ? loA.checksum == loB.checksum : nil)
        return Comparison(
            source: source.0, target: target.0, tables: tables, sequences: sequences, largeObjects: largeObjects,
            schema: schemas.map { SchemaText.compare(source: $0.0, target: $0.1, acrossVersions: acrossVersions) })
    }
}
