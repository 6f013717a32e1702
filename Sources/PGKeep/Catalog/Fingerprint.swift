import Foundation

extension Manifest {
    /// What the data was, as of the backup's snapshot (`backup --fingerprint`): each table's exact
    /// row count and an order-independent checksum of its rows' contents, every sequence's value
    /// and the number of large objects. A restore is then checked row for row against it.
    public struct Fingerprint: Codable, Sendable, Equatable {
        /// How the checksums were made; a restore compares only fingerprints of the same method.
        public var method = Fingerprints.method
        public var tables: [String: Table]
        /// `pg_sequences.last_value` as text; null: never called.
        public var sequences: [String: String?]
        public var largeObjects: Int64

        public struct Table: Codable, Sendable, Equatable {
            public var rows: Int64
            /// The sum of the rows' hashes, as text (a 128-bit sum does not fit a JSON number).
            public var checksum: String
        }

        enum CodingKeys: String, CodingKey {
            case method, tables, sequences
            case largeObjects = "large_objects"
        }
    }
}

/// Takes and compares fingerprints, through whatever runs SQL in the database (the backup's
/// snapshot session, libpq on a restore target, psql inside a compose service).
public enum Fingerprints {
    /// Each row's text (its columns by name, under `CopyCatalog.stableOutput`'s settings, so the
    /// same values print the same on every major version) hashed with `hashtextextended`, the
    /// hashes summed exactly: the same as `compare`'s table checksums.
    public static let method = "hashtextextended(row text, columns by name), summed; v1"

    /// The settings that fix a row's text, without the session's time bounds (the caller's own).
    static let settings = CopyCatalog.stableOutput.filter { !$0.contains("timeout") }

    /// The fingerprint of every ordinary table (or of `only`, when given), in one statement per
    /// part so that it runs in the caller's snapshot.
    public static func take(_ query: TargetCatalog.Query, only: Set<String>? = nil) throws -> Manifest.Fingerprint {
        let prefix = settings.joined(separator: "; ") + "; "
        let tables = CopyCatalog.tables(try query(prefix + CopyCatalog.tablesSQL))
            .filter { only?.contains($0.name) ?? true }
        var result: [String: Manifest.Fingerprint.Table] = [:]
        // A statement per 200 tables: one scan of each, and a bounded statement for a wide schema.
        var start = 0
        while start < tables.count {
            let part = tables[start..<min(start + 200, tables.count)]
            let sql = part.map { t in
                "SELECT \(SQL.literal(t.name)), * FROM (\(CopyCatalog.checksumSQL(t))) AS s"
            }.joined(separator: " UNION ALL ")
            for row in try query(prefix + sql) where row.count == 3 {
                if let name = row[0], let rows = row[1].flatMap({ Int64($0) }), let sum = row[2] {
                    result[name] = .init(rows: rows, checksum: sum)
                }
            }
            start += 200
        }
        var sequences: [String: String?] = [:]
        if only == nil {
            for row in try query(prefix + CopyCatalog.sequencesSQL) where row.count == 2 {
                if let name = row[0] { sequences[name] = .some(row[1]) }
            }
        }
        let objects = try query("SELECT count(*) FROM pg_catalog.pg_largeobject_metadata").first?.first ?? nil
        return Manifest.Fingerprint(
            tables: result, sequences: sequences, largeObjects: objects.flatMap { Int64($0) } ?? 0)
    }

    /// Row counts as `count(*)` gives them: each table's own rows plus those of its inheritance
    /// descendants (partitions' parents are not ordinary tables and have no entry).
    static func rowCounts(_ fingerprint: Manifest.Fingerprint, inherits: [(parent: String, child: String)])
        -> [String: Int]
    {
        var children: [String: [String]] = [:]
        for edge in inherits { children[edge.parent, default: []].append(edge.child) }
        func total(_ table: String, _ seen: Set<String>) -> Int64 {
            let own = fingerprint.tables[table]?.rows ?? 0
            return own
                + (children[table] ?? []).filter { !seen.contains($0) }.reduce(0) {
                    $0 + total($1, seen.union([table]))
                }
        }
        return Dictionary(uniqueKeysWithValues: fingerprint.tables.keys.map { ($0, Int(total($0, []))) })
    }

    /// What differs between the backup's fingerprint and the restored database's, in words; only
    /// the tables of `scope` (a partial restore), else everything. Empty: identical.
    public static func differences(
        expected: Manifest.Fingerprint, actual: Manifest.Fingerprint, scope: Set<String>? = nil
    ) -> [String] {
        var out: [String] = []
        for (name, want) in expected.tables.sorted(by: { $0.key < $1.key }) where scope?.contains(name) ?? true {
            guard let got = actual.tables[name] else {
                out.append("\(name): missing (the backup had \(want.rows) rows)")
                continue
            }
            if got.rows != want.rows {
                out.append("\(name): \(got.rows) rows, the backup had \(want.rows)")
            } else if got.checksum != want.checksum {
                out.append("\(name): the same \(got.rows) rows in number, but their contents differ (checksum)")
            }
        }
        guard scope == nil else { return out }
        for name in actual.tables.keys.sorted() where expected.tables[name] == nil {
            out.append("\(name): not in the backup")
        }
        // Sequences are recorded, not compared: their values are not transactional, so the
        // snapshot's session and pg_dump read each at its own moment while the database is in use.
        for name in expected.sequences.keys.sorted() where actual.sequences[name] == nil {
            out.append("sequence \(name): missing")
        }
        if actual.largeObjects != expected.largeObjects {
            out.append("large objects: \(actual.largeObjects), the backup had \(expected.largeObjects)")
        }
        return out
    }
}
