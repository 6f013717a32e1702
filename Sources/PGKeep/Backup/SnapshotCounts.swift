import Foundation

/// Exact per-table row counts in the very snapshot pg_dump dumps: a REPEATABLE READ READ ONLY
/// transaction exports its snapshot (`pg_export_snapshot()`), counts every table, and stays open
/// while pg_dump imports the snapshot with `--snapshot`.
///
/// Each table is counted in a subtransaction that is rolled back at once: the snapshot stays, but
/// the table's lock goes with the subtransaction, so this session never holds locks on tables it
/// has counted (a migration's `ALTER TABLE` on them is not held up by pgkeep), and a table it
/// cannot lock within `--lock-wait-timeout` fails the count instead of waiting forever.
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
        var counts: [String: Int] = [:]
        for table in try TargetCatalog.ordinaryTables(query, tables: try TargetCatalog.userTables(query)) {
            let rows = try connection.query("SAVEPOINT pgkeep_count; SELECT count(*) FROM \(table)")
            _ = try connection.query("ROLLBACK TO SAVEPOINT pgkeep_count")
            if let n = rows.first?.first.flatMap({ $0 }).flatMap({ Int($0) }) { counts[table] = n }
        }
        return counts
    }

    /// Ends the transaction (after pg_dump has finished).
    public func close() {
        _ = try? connection.query("COMMIT")
    }
}
