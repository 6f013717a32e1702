import Foundation

/// The live table `recover` works on: its name, its key, and the SQL that compares it with the
/// backup's rows in the scratch schema.
struct RecoverTable {
    /// `schema.table` as format('%I.%I') writes it (and pg_dump's COPY line).
    var name: String
    var nspname: String
    var relname: String
    /// Quoted key columns, in key order.
    var key: [String]

    /// Finds `table` in the live database (as a name on the search path or `schema.table`) and
    /// its key: `key` when given (its columns must exist), else the primary key.
    static func resolve(_ table: String, key: [String], in live: PostgresConnection, database: String) throws
        -> RecoverTable
    {
        let rows = try live.query(
            """
            SELECT format('%I.%I', n.nspname, c.relname), n.nspname, c.relname,
              (SELECT string_agg(quote_ident(a.attname), chr(31) ORDER BY k.ord)
               FROM pg_catalog.pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
               WHERE i.indrelid = c.oid AND i.indisprimary), c.oid::bigint
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = pg_catalog.to_regclass(\(SQL.literal(table))) AND c.relkind IN ('r', 'p')
            """)
        guard let row = rows.first, let name = row[0], let nsp = row[1], let rel = row[2], let oid = row[4] else {
            throw PGKeepError(
                .usage, "there is no table \(table) in \"\(database)\"",
                hint: "recover brings rows back into a table that exists; restore --table re-creates a dropped one")
        }
        var keyColumns = row[3].map { $0.split(separator: "\u{1F}").map(String.init) } ?? []
        if !key.isEmpty {
            // Quoted as pg_dump quotes them (quote_ident), in the order given.
            keyColumns = try key.map { column in
                let found = try live.query(
                    "SELECT quote_ident(attname) FROM pg_catalog.pg_attribute WHERE attrelid = \(oid) AND attnum > 0 "
                        + "AND NOT attisdropped AND attname = \(SQL.literal(column))")
                guard let quoted = found.first?.first ?? nil else {
                    throw PGKeepError(.usage, "--key \(key.joined(separator: ",")): \(name) has no column \(column)")
                }
                return quoted
            }
        }
        guard !keyColumns.isEmpty else {
            throw PGKeepError(
                .usage, "\(name) has no primary key: give --key COLUMNS, the columns that identify a row",
                hint: "without a key, rows cannot be matched between the backup and the live table")
        }
        return RecoverTable(name: name, nspname: nsp, relname: rel, key: keyColumns)
    }

    /// The two sides of a comparison and the statements over them.
    struct Sides {
        var live: String
        var backup: String
        var key: [String]
        /// The archive's column list, `(a, b)`.
        var columns: String
        /// Columns whose type has an equality operator (compared with it; the others as text).
        var comparable: Set<String> = []

        var columnNames: [String] { Self.split(columns) }
        var nonKey: [String] { columnNames.filter { !key.contains($0) } }

        func list(_ alias: String, _ names: [String]) -> String {
            names.map { "\(alias).\($0)" }.joined(separator: ", ")
        }
        var keyMatch: String { "(\(list("l", key))) = (\(list("b", key)))" }
        /// A column differs: by its type's equality where it has one (one call per value, no text),
        /// else as text (json, point, ...).
        var differs: String {
            "("
                + columnNames.map { c in
                    comparable.contains(c)
                        ? "l.\(c) IS DISTINCT FROM b.\(c)" : "l.\(c)::text IS DISTINCT FROM b.\(c)::text"
                }.joined(separator: " OR ") + ")"
        }
        var deletedRows: String { "FROM \(backup) b WHERE NOT EXISTS (SELECT 1 FROM \(live) l WHERE \(keyMatch))" }
        var changedRows: String { "FROM \(backup) b JOIN \(live) l ON \(keyMatch) WHERE \(differs)" }

        /// Deleted, changed and added in one pass over both tables.
        var countsSQL: String {
            "SELECT count(*) FILTER (WHERE l.ctid IS NULL), "
                + "count(*) FILTER (WHERE l.ctid IS NOT NULL AND b.ctid IS NOT NULL AND \(differs)), "
                + "count(*) FILTER (WHERE b.ctid IS NULL) FROM \(backup) b FULL JOIN \(live) l ON \(keyMatch)"
        }

        /// The live table's columns whose type has an equality operator.
        static func comparableColumns(of table: String, in session: PostgresConnection) throws -> Set<String> {
            Set(
                try session.query(
                    """
                    SELECT quote_ident(a.attname) FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid = \(SQL.literal(table))::regclass AND a.attnum > 0 AND NOT a.attisdropped
                      AND EXISTS (SELECT 1 FROM pg_catalog.pg_operator o WHERE o.oprname = '='
                                  AND o.oprleft = a.atttypid AND o.oprright = a.atttypid)
                    """
                ).compactMap { $0.first ?? nil })
        }
        var nullKeysSQL: String { "SELECT count(*) FROM \(backup) b WHERE NOT ((\(list("b", key))) IS NOT NULL)" }
        var duplicateKeysSQL: String {
            "SELECT count(*) FROM (SELECT 1 FROM \(backup) GROUP BY \(key.joined(separator: ", ")) HAVING count(*) > 1) d"
        }

        /// Brings back the deleted rows and sets back the changed ones, in the session's transaction.
        func apply(_ session: PostgresConnection) throws -> (inserted: Int, updated: Int) {
            let inserted = try session.query(
                "WITH done AS (INSERT INTO \(live) \(columns) OVERRIDING SYSTEM VALUE SELECT \(list("b", columnNames)) "
                    + "\(deletedRows) RETURNING 1) SELECT count(*) FROM done")
            var updated = 0
            if !nonKey.isEmpty {
                let rows = try session.query(
                    "WITH done AS (UPDATE \(live) l SET (\(nonKey.joined(separator: ", "))) = ROW(\(list("b", nonKey))) "
                        + "FROM \(backup) b WHERE \(keyMatch) AND \(differs) RETURNING 1) SELECT count(*) FROM done")
                updated = Int(rows.first?.first.flatMap { $0 } ?? "") ?? 0
            }
            return (Int(inserted.first?.first.flatMap { $0 } ?? "") ?? 0, updated)
        }

        /// The same as reviewed SQL: a statement per row, values as literals, in one transaction.
        func writeSQL(to path: String, live session: PostgresConnection, origin: String) throws {
            let fd = try FileSystem.createPrivateFile(path)
            defer { close(fd) }
            func write(_ text: String) throws {
                guard Data(text.utf8).withUnsafeBytes({ FileSystem.writeUntilClosed(fd, $0) }) else {
                    throw PGKeepError(.backup, "cannot write \(path): \(errnoText())")
                }
            }
            let values = { (names: [String]) in
                "concat_ws(', ', \(names.map { "quote_nullable(b.\($0))" }.joined(separator: ", ")))"
            }
            try write(
                "-- pgkeep recover: \(live) from \(origin): the rows deleted since the backup brought back and the rows\n"
                    + "-- changed since set back; rows added since are left as they are. Review it, then: psql -v ON_ERROR_STOP=1 -f FILE\n"
                    + "BEGIN;\n"
                    + Fingerprints.settings.filter { !$0.contains("search_path") }.map { $0 + ";\n" }.joined())
            var select =
                "SELECT format('INSERT INTO %s %s OVERRIDING SYSTEM VALUE VALUES (%s);', \(SQL.literal(live)), "
                + "\(SQL.literal(columns)), \(values(columnNames))) \(deletedRows)"
            if !nonKey.isEmpty {
                select +=
                    " UNION ALL SELECT format('UPDATE %s SET (%s) = ROW(%s) WHERE (%s) = (%s);', \(SQL.literal(live)), "
                    + "\(SQL.literal(nonKey.joined(separator: ", "))), \(values(nonKey)), "
                    + "\(SQL.literal(key.joined(separator: ", "))), \(values(key))) \(changedRows)"
            }
            try session.execute("DECLARE pgkeep_recover_sql NO SCROLL CURSOR FOR \(select)", what: "preparing the SQL")
            while true {
                let rows = try session.query("FETCH 2000 FROM pgkeep_recover_sql")
                if rows.isEmpty { break }
                try write(rows.compactMap { $0.first ?? nil }.joined(separator: "\n") + "\n")
            }
            try session.execute("CLOSE pgkeep_recover_sql", what: "closing the SQL cursor")
            try write("COMMIT;\n")
            guard fsync(fd) == 0 else { throw PGKeepError(.backup, "cannot write \(path): \(errnoText())") }
        }

        /// The names of a column list `(a, "b, c", d)`, quoted as written.
        static func split(_ list: String) -> [String] {
            var names: [String] = []
            var current = ""
            var quoted = false
            for ch in list.dropFirst().dropLast() {
                if ch == "\"" { quoted.toggle() }
                if ch == "," && !quoted {
                    names.append(current.trimmingCharacters(in: .whitespaces))
                    current = ""
                } else {
                    current.append(ch)
                }
            }
            if !current.trimmingCharacters(in: .whitespaces).isEmpty {
                names.append(current.trimmingCharacters(in: .whitespaces))
            }
            return names
        }
    }
}
