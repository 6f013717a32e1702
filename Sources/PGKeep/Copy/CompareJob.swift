import Foundation

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
        // This machine's pg_dump reads the local sides' schemas; a compose side uses its own.
        let local = zip([source, target], servers).filter { $0.0.compose == nil }.map(\.1)
        if schema && !local.isEmpty {
            try CopyJob.requireClient(tools, servers: local, environment: source.local.env.environment)
        }
        let a = try source.sessions(count: jobs, snapshot: nil)
        let b = try target.sessions(count: jobs, snapshot: nil)
        let schemas: (String, String)? =
            schema
            ? (try schemaScript(source, session: a[0]), try schemaScript(target, session: b[0])) : nil
        return try Self.compare(
            source: (source.display, a), target: (target.display, b),
            sourceSequences: try DataComparer.sequenceValues(a[0]), schemas: schemas,
            acrossVersions: servers[0].majorKey != servers[1].majorKey)
    }

    /// `pg_dump --schema-only` in the session's snapshot.
    func schemaScript(_ side: DatabaseSide, session: any SQLSession) throws -> String {
        let snapshot = try session.query("SELECT pg_catalog.pg_export_snapshot()").first?[0] ?? nil
        let out = try side.run(
            "pg_dump", database: side.database,
            arguments: ["--schema-only", "--file=-"] + (snapshot.map { ["--snapshot=\($0)"] } ?? []),
            what: "pg_dump --schema-only of \(side.display)")
        return String(decoding: out, as: UTF8.self)
    }

    /// The comparison itself, shared with a copy's validation (whose source sequences and schema
    /// come from the archive pg_dump wrote in the copy's snapshot).
    static func compare(
        source: (String, [any SQLSession]), target: (String, [any SQLSession]),
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
