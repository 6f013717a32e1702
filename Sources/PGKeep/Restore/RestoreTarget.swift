import CLibPQ
import Foundation

/// The database a restore writes into, inspected through libpq before and after.
public struct RestoreTarget {
    public let spec: ConnectionSpec
    public let database: String

    public init(spec: ConnectionSpec, database: String) {
        self.spec = spec
        self.database = database
    }

    /// Connects to a maintenance database to look at or create the target.
    private func maintenance() throws -> PostgresConnection {
        do {
            return try PostgresConnection(spec: spec, database: "postgres")
        } catch {
            return try PostgresConnection(spec: spec, database: "template1")
        }
    }

    public func exists() throws -> Bool {
        let c = try maintenance()
        return try !c.query("SELECT 1 FROM pg_catalog.pg_database WHERE datname = \(c.literal(database))").isEmpty
    }

    /// CREATE DATABASE ... TEMPLATE template0 ENCODING 'UTF8'.
    public func create() throws {
        let c = try maintenance()
        _ = try c.query("CREATE DATABASE \(c.identifier(database)) TEMPLATE template0 ENCODING 'UTF8'")
    }

    public func connect() throws -> PostgresConnection {
        try PostgresConnection(spec: spec, database: database)
    }

    /// `schema.table` (quoted as format('%I.%I') quotes) of every ordinary and partitioned table.
    public static func userTables(_ c: PostgresConnection) throws -> [String] {
        try c.query("""
            SELECT format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
            ORDER BY 1
            """).compactMap { $0[0] }
    }

    /// Exact row counts of the given tables (ordinary tables only; a partitioned parent's rows
    /// are its partitions').
    public static func rowCounts(_ c: PostgresConnection, tables: [String]) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for t in tables {
            let kind = try c.query("SELECT relkind FROM pg_catalog.pg_class WHERE oid = to_regclass(\(c.literal(t)))").first?.first ?? nil
            guard kind == "r" else { continue }
            counts[t] = Int(try c.query("SELECT count(*) FROM \(t)")[0][0] ?? "0") ?? 0
        }
        return counts
    }
}

extension PostgresConnection {
    /// A string literal, escaped by libpq.
    public func literal(_ s: String) -> String { escape(s, identifier: false) }
    /// An identifier, quoted by libpq.
    public func identifier(_ s: String) -> String { escape(s, identifier: true) }
}
