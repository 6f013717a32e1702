import Foundation

/// Exact per-table row counts in the very snapshot pg_dump dumps: a REPEATABLE READ READ ONLY
/// transaction exports its snapshot (`pg_export_snapshot()`), counts every table, and stays open
/// while pg_dump imports the snapshot with `--snapshot`.
///
/// The counts keep their ACCESS SHARE locks until pg_dump has its own: TRUNCATE and table
/// rewrites are not MVCC-safe, so a table truncated after it was counted would look empty to
/// pg_dump's snapshot while the manifest says it had rows. What bounds this session is
/// `--lock-wait-timeout` (its `lock_timeout`): a table it cannot lock in time fails the backup
/// instead of waiting, and holding up others, forever.
public final class SnapshotCounts {
    private let connection: PostgresConnection
    public let snapshot: String

    public init(spec: ConnectionSpec, database: String) throws {
        connection = try PostgresConnection(spec: spec, database: database)
        _ = try connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        guard let id = try connection.query("SELECT pg_catalog.pg_export_snapshot()").first?.first ?? nil else {
            throw PGKeepError(.preflight, "the server did not export a snapshot for --row-counts")
        }
        snapshot = id
    }

    /// Counts every ordinary table (partitions included, partitioned parents not).
    public func count() throws -> [String: Int] {
        let query: TargetCatalog.Query = { try self.connection.query($0) }
        return try TargetCatalog.rowCounts(query, tables: try TargetCatalog.userTables(query))
    }

    /// The fingerprint of every table, the sequences and the large objects, in the snapshot.
    func fingerprint() throws -> Manifest.Fingerprint {
        try Fingerprints.take { try self.connection.query($0) }
    }

    /// Takes ACCESS SHARE on every table the fingerprint will read, before pg_dump starts (as
    /// the counts do): a TRUNCATE or rewrite queued behind pg_dump cannot slip in before the
    /// fingerprint reaches its table.
    func lockTables() throws {
        let names = CopyCatalog.tables(try connection.query(CopyCatalog.tablesSQL)).map(\.name)
        guard !names.isEmpty else { return }
        try connection.execute(
            "LOCK TABLE \(names.joined(separator: ", ")) IN ACCESS SHARE MODE",
            what: "locking the tables to fingerprint")
    }

    /// The row counts `--row-counts` records (as `count(*)` counts: a table with inheritance
    /// children includes theirs), from a fingerprint's own rows (`FROM ONLY`) and the catalog.
    func countsOf(_ fingerprint: Manifest.Fingerprint) throws -> [String: Int] {
        let edges = try connection.query(
            """
            SELECT format('%I.%I', pn.nspname, p.relname), format('%I.%I', cn.nspname, c.relname)
            FROM pg_catalog.pg_inherits i
            JOIN pg_catalog.pg_class p ON p.oid = i.inhparent JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
            JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
            """
        ).compactMap { row -> (String, String)? in
            guard row.count == 2, let parent = row[0], let child = row[1] else { return nil }
            return (parent, child)
        }
        return Fingerprints.rowCounts(fingerprint, inherits: edges)
    }

    /// Cancels a query running in the session (the fingerprint's scan), from another thread.
    func cancel() { connection.cancelRunningQuery() }

    /// Ends the transaction (after pg_dump has finished).
    public func close() {
        _ = try? connection.query("COMMIT")
    }
}
