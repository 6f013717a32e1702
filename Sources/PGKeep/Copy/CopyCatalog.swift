import Foundation

/// A table whose rows a copy moves and a compare checks: every ordinary table (partitions
/// included, partitioned parents have no rows of their own) outside the system schemas that is
/// not an extension's member. Temporary tables are left out, as pg_dump leaves them out.
public struct CopyTable: Sendable, Equatable, Codable {
    /// `schema.table` quoted as `format('%I.%I')` quotes it: valid SQL, and the key of reports.
    public var name: String
    /// Columns COPY moves (generated columns excluded), in table order, quoted; empty: none.
    public var copyColumns: String
    /// Every column, ordered by name, quoted: the row the checksum hashes.
    public var checksumColumns: String
    /// Heap plus TOAST bytes on the source: orders the work (largest first) and sizes `--dry-run`.
    public var bytes: Int64
    /// The planner's estimate (reltuples), for `--dry-run`; -1 when never analysed.
    public var estimatedRows: Int64
}

/// The catalog queries of copy and compare.
enum CopyCatalog {
    static let tablesSQL = """
        SELECT format('%I.%I', n.nspname, c.relname),
          coalesce((SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''), ''),
          coalesce((SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attname COLLATE "C")
                    FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), ''),
          pg_catalog.pg_relation_size(c.oid)
            + coalesce(pg_catalog.pg_relation_size(NULLIF(c.reltoastrelid, 0)), 0),
          c.reltuples::bigint
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND c.relpersistence IN ('p', 'u')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                          WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
        ORDER BY 4 DESC, 1
        """

    static func tables(_ rows: [[String?]]) -> [CopyTable] {
        rows.map { row in
            CopyTable(
                name: row[0] ?? "", copyColumns: row[1] ?? "", checksumColumns: row[2] ?? "",
                bytes: Int64(row[3] ?? "") ?? 0, estimatedRows: Int64(row[4] ?? "") ?? -1)
        }
    }

    /// Session settings that make a row's text the same on every server and client: the
    /// checksums hash that text, and COPY's text format carries it.
    static let stableOutput = [
        "SET DateStyle = 'ISO, MDY'", "SET IntervalStyle = 'postgres'", "SET TimeZone = 'UTC'",
        "SET extra_float_digits = 3", "SET bytea_output = 'hex'", "SET lc_monetary = 'C'",
        "SET statement_timeout = 0", "SET lock_timeout = 0", "SET idle_in_transaction_session_timeout = 0",
        "SET search_path = ''",
    ]

    /// Row count and an order-independent checksum of the rows: each row's text (its columns by
    /// name) hashed with `hashtextextended` (the 64-bit hash that hash partitioning stores, so it
    /// is the same in every major version since 11), the hashes summed exactly. Two sides agree
    /// when they hold the same multiset of rows; the text is what the server prints, so the same
    /// values agree across major versions. Returns "count" and the sum.
    static func checksumSQL(_ table: CopyTable) -> String {
        let row = table.checksumColumns.isEmpty ? "''" : "ROW(\(table.checksumColumns))::text"
        return """
            SELECT count(*), coalesce(sum(pg_catalog.hashtextextended(\(row), 0)), 0)::text
            FROM ONLY \(table.name) AS t
            """
    }

    /// Every sequence's last value as `pg_sequences` shows it (NULL: not yet called).
    static let sequencesSQL = """
        SELECT format('%I.%I', schemaname, sequencename), last_value::text FROM pg_catalog.pg_sequences
        WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1
        """

    /// Large objects: how many, and a checksum over their oids and contents.
    static let largeObjectsSQL = """
        SELECT count(*), coalesce(sum(pg_catalog.hashtextextended(oid::text || ':' || md5(pg_catalog.lo_get(oid)), 0)),
          0)::text
        FROM pg_catalog.pg_largeobject_metadata
        """
    static let largeObjectCountSQL = "SELECT count(*), 'unread' FROM pg_catalog.pg_largeobject_metadata"

    /// The `SELECT pg_catalog.setval('name', value, is_called);` lines of a pg_restore script,
    /// as pg_sequences would then show each sequence (NULL when is_called is false).
    static func sequenceValues(fromScript script: String) -> [String: String?] {
        var out: [String: String?] = [:]
        let prefix = "SELECT pg_catalog.setval('"
        for line in script.split(separator: "\n") where line.hasPrefix(prefix) {
            let rest = line.dropFirst(prefix.count)
            guard let close = rest.range(of: "', ", options: .backwards) else { continue }
            let name = rest[..<close.lowerBound].replacingOccurrences(of: "''", with: "'")
            let args = rest[close.upperBound...].replacingOccurrences(of: ");", with: "")
                .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard args.count == 2 else { continue }
            out[name] = args[1] == "true" ? .some(args[0]) : .some(nil)
        }
        return out
    }
}
