import Foundation

/// Catalog queries about a target database, run through whatever executes SQL there (libpq here,
/// psql inside a compose service).
public enum TargetCatalog {
    public typealias Query = (String) throws -> [[String?]]

    /// `schema.table` (as format('%I.%I') writes it) of every ordinary and partitioned table.
    public static func userTables(_ query: Query) throws -> [String] {
        try query(
            """
            SELECT format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
            ORDER BY 1
            """
        ).compactMap { $0.first ?? nil }
    }

    /// Exact row counts of the given tables (ordinary tables only: a partitioned parent's rows
    /// are its partitions'), in one statement.
    public static func rowCounts(_ query: Query, tables: [String]) throws -> [String: Int] {
        let ordinary = try ordinaryTables(query, tables: tables)
        guard !ordinary.isEmpty else { return [:] }
        let sql = ordinary.map { "SELECT \(SQL.literal($0)), count(*) FROM \($0)" }.joined(separator: " UNION ALL ")
        var counts: [String: Int] = [:]
        for row in try query(sql) where row.count == 2 {
            if let t = row[0], let n = row[1].flatMap({ Int($0) }) { counts[t] = n }
        }
        return counts
    }

    /// Of `tables`, the ordinary ones (a partitioned parent holds no rows of its own).
    static func ordinaryTables(_ query: Query, tables: [String]) throws -> [String] {
        guard !tables.isEmpty else { return [] }
        let kinds = try query(
            "SELECT t, c.relkind FROM unnest(ARRAY[\(tables.map(SQL.literal).joined(separator: ","))]) t "
                + "JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(t)"
        )
        return kinds.filter { $0.count == 2 && $0[1] == "r" }.compactMap { $0[0] }
    }
}
