import Foundation

/// What `compare` (and a copy's validation) found, side by side.
public struct Comparison: Sendable, Codable {
    public struct Table: Sendable, Codable, Equatable {
        public var name: String
        /// nil: the table is missing on that side.
        public var sourceRows: Int64?
        public var targetRows: Int64?
        public var checksumMatch: Bool
        public var matches: Bool { sourceRows != nil && sourceRows == targetRows && checksumMatch }

        enum CodingKeys: String, CodingKey {
            case name
            case sourceRows = "source_rows"
            case targetRows = "target_rows"
            case checksumMatch = "checksum_match"
        }
    }

    public struct Sequence: Sendable, Codable, Equatable {
        public var name: String
        /// Last values as pg_sequences shows them ("null": never called; nil: missing on that side).
        public var source: String?
        public var target: String?
        public var matches: Bool { source != nil && source == target }
    }

    public struct LargeObjects: Sendable, Codable, Equatable {
        public var sourceCount: Int64
        public var targetCount: Int64
        /// nil when the contents could not be read (no privilege on lo_get): counts only.
        public var checksumMatch: Bool?
        public var matches: Bool { sourceCount == targetCount && checksumMatch != false }

        enum CodingKeys: String, CodingKey {
            case sourceCount = "source_count"
            case targetCount = "target_count"
            case checksumMatch = "checksum_match"
        }
    }

    public struct Schema: Sendable, Codable, Equatable {
        /// Normalised schema entries present on one side only (at most 20 of each shown).
        public var onlyInSource: [String]
        public var onlyInTarget: [String]
        public var entries: Int
        public var matches: Bool { onlyInSource.isEmpty && onlyInTarget.isEmpty }

        enum CodingKeys: String, CodingKey {
            case onlyInSource = "only_in_source"
            case onlyInTarget = "only_in_target"
            case entries
        }
    }

    public var source: String
    public var target: String
    public var tables: [Table]
    public var sequences: [Sequence]
    public var largeObjects: LargeObjects
    /// nil when the schema was not compared.
    public var schema: Schema?

    public var matches: Bool {
        tables.allSatisfy(\.matches) && sequences.allSatisfy(\.matches) && largeObjects.matches
            && (schema?.matches ?? true)
    }

    /// One line per difference, the tables first (in report order).
    public var differences: [String] {
        var out: [String] = []
        for t in tables where !t.matches {
            if t.sourceRows == nil || t.targetRows == nil {
                out.append("table \(t.name) is missing on the \(t.sourceRows == nil ? "source" : "target")")
            } else if t.sourceRows != t.targetRows {
                out.append("table \(t.name): \(t.sourceRows!) rows on the source, \(t.targetRows!) on the target")
            } else {
                out.append("table \(t.name): same row count (\(t.sourceRows!)) but different contents")
            }
        }
        for s in sequences where !s.matches {
            out.append(
                "sequence \(s.name): last value \(s.source ?? "missing") on the source, \(s.target ?? "missing") "
                    + "on the target")
        }
        if !largeObjects.matches {
            out.append(
                "large objects: \(largeObjects.sourceCount) on the source, \(largeObjects.targetCount) on the target"
                    + (largeObjects.checksumMatch == false ? ", contents differ" : ""))
        }
        if let schema, !schema.matches {
            out.append(
                "schema: \(schema.onlyInSource.count) entries only on the source, \(schema.onlyInTarget.count) only "
                    + "on the target" + (schema.onlyInSource.first.map { "; first: \(Self.firstLine($0))" } ?? ""))
        }
        return out
    }

    static func firstLine(_ s: String) -> String {
        String(s.split(separator: "\n").first ?? "").prefix(100).description
    }

    enum CodingKeys: String, CodingKey {
        case source, target, tables, sequences, schema
        case largeObjects = "large_objects"
    }
}

/// Schema comparison through `pg_dump --schema-only` text, normalised: the script is cut into
/// pg_dump's entries (each starts at a `-- Name:` header), comment lines, blank lines, `SET`
/// lines, `set_config` calls and psql meta-commands (`\connect`, `\restrict`) are dropped, and
/// the entries are compared as multisets (the order of equal-ranked entries may differ). The
/// database's own name and the dump's version header are therefore not compared. Owner changes of
/// sequences, views and foreign tables are read in pg_dump 15's `ALTER TABLE` form.
///
/// Between servers of different major versions, the bodies of views, materialized views and
/// rules are compared without qualifying prefixes (`t.col` as `col`): the server prints them, and
/// PostgreSQL 16 leaves the columns of single-table views unqualified where 15 qualified them.
public enum SchemaText {
    public static func entries(_ script: String, acrossVersions: Bool = false) -> [String] {
        let raw = entries(script)
        guard acrossVersions else { return raw }
        return raw.map { entry in
            let deparsed = ["CREATE VIEW ", "CREATE MATERIALIZED VIEW ", "CREATE RULE ", "CREATE OR REPLACE VIEW "]
            guard deparsed.contains(where: { entry.hasPrefix($0) }) else { return entry }
            return unqualified(entry)
        }
    }

    /// `a.b` → `b` and `"x y".b` → `b` outside string literals.
    static func unqualified(_ text: String) -> String {
        guard
            let regex = try? NSRegularExpression(
                pattern: #"('(?:[^']|'')*')|(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")\.(?=[A-Za-z_"])"#)
        else { return text }
        var out = ""
        var last = text.startIndex
        for m in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            guard let r = Range(m.range, in: text) else { continue }
            out += text[last..<r.lowerBound]
            if m.range(at: 1).location != NSNotFound { out += text[r] }
            last = r.upperBound
        }
        return out + text[last...]
    }

    static func entries(_ script: String) -> [String] {
        var out: [String] = []
        var current: [String] = []
        func flush() {
            let text = current.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
            // A materialized view's REFRESH is its data (pg_restore lists it with the schema, pg_dump
            // --schema-only leaves it out): whether it ran shows in the rows, not here.
            if !text.isEmpty && !text.hasPrefix("REFRESH MATERIALIZED VIEW ") { out.append(text) }
            current = []
        }
        for raw in script.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.hasPrefix("-- Name: ") || line.hasPrefix("-- Data for Name: ") {
                flush()
                continue
            }
            if line.hasPrefix("--") || line.hasPrefix("\\") || line.trimmingCharacters(in: .whitespaces).isEmpty {
                continue
            }
            if current.isEmpty && (line.hasPrefix("SET ") || line.hasPrefix("SELECT pg_catalog.set_config(")) {
                continue
            }
            current.append(ownerForm(line))
        }
        flush()
        return out
    }

    /// pg_dump 16 writes `ALTER SEQUENCE|VIEW|MATERIALIZED VIEW|FOREIGN TABLE x OWNER TO` where 15
    /// wrote `ALTER TABLE x OWNER TO` (the same statement to the server): one form for both, so
    /// dumps by different pg_dump versions (two compose services) compare.
    static func ownerForm(_ line: String) -> String {
        guard line.hasPrefix("ALTER "), line.hasSuffix(";"), line.contains(" OWNER TO ") else { return line }
        for kind in ["ALTER SEQUENCE ", "ALTER VIEW ", "ALTER MATERIALIZED VIEW ", "ALTER FOREIGN TABLE "]
        where line.hasPrefix(kind) {
            return "ALTER TABLE " + line.dropFirst(kind.count)
        }
        return line
    }

    public static func compare(source: String, target: String, acrossVersions: Bool = false) -> Comparison.Schema {
        let a = entries(source, acrossVersions: acrossVersions)
        let b = entries(target, acrossVersions: acrossVersions)
        var counts: [String: Int] = [:]
        for e in a { counts[e, default: 0] += 1 }
        for e in b { counts[e, default: 0] -= 1 }
        var onlyA: [String] = []
        var onlyB: [String] = []
        for e in a where (counts[e] ?? 0) > 0 {
            onlyA.append(e)
            counts[e]! -= 1
        }
        for e in b where (counts[e] ?? 0) < 0 {
            onlyB.append(e)
            counts[e]! += 1
        }
        return Comparison.Schema(
            onlyInSource: Array(onlyA.prefix(20)), onlyInTarget: Array(onlyB.prefix(20)), entries: max(a.count, b.count)
        )
    }
}
