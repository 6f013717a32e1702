import Foundation

/// One entry of an archive's table of contents, from `pg_restore --list` and the dependencies
/// `pg_restore --verbose --schema-only` prints for it.
public struct TOCEntry: Sendable, Equatable {
    public var id: Int
    public var type: String
    public var schema: String
    public var tag: String
    public var line: String
    public var dependencies: [Int] = []
}

/// Chooses the entries `--table` restores: the table, its data, the indexes, constraints,
/// triggers, defaults, comments and grants that belong to selected tables only (a foreign key to
/// a table that is not restored is left out), and the sequences, types, domains, functions and
/// schemas they rely on that the target does not have yet.
public enum TableSelection {
    static let multiWordTypes = [
        "TABLE DATA", "FK CONSTRAINT", "SEQUENCE SET", "SEQUENCE OWNED BY", "MATERIALIZED VIEW DATA",
        "MATERIALIZED VIEW", "DEFAULT ACL", "LARGE OBJECT", "BLOB METADATA", "EVENT TRIGGER",
        "INDEX ATTACH", "TABLE ATTACH", "ROW SECURITY", "PROCEDURAL LANGUAGE", "FOREIGN TABLE",
        "FOREIGN DATA WRAPPER", "FOREIGN SERVER", "USER MAPPING", "TEXT SEARCH CONFIGURATION",
        "TEXT SEARCH DICTIONARY", "TEXT SEARCH PARSER", "TEXT SEARCH TEMPLATE", "ACCESS METHOD",
        "OPERATOR CLASS", "OPERATOR FAMILY", "PUBLICATION TABLE", "PUBLICATION TABLES IN SCHEMA",
        "SHELL TYPE", "ENCODING", "STDSTRINGS", "SEARCHPATH",
    ]
    /// Entries that belong to a table and come with it.
    static let attached: Set<String> = [
        "INDEX", "CONSTRAINT", "FK CONSTRAINT", "TRIGGER", "DEFAULT", "RULE", "POLICY",
        "ROW SECURITY", "COMMENT", "ACL", "INDEX ATTACH", "STATISTICS", "SEQUENCE OWNED BY",
    ]
    /// Objects a table relies on, restored only when the target lacks them.
    static let supporting: Set<String> = ["SEQUENCE", "TYPE", "DOMAIN", "FUNCTION", "SCHEMA", "COLLATION"]

    /// Parses `pg_restore --list` output ("id; class oid TYPE schema tag owner").
    public static func parseList(_ text: String) -> [TOCEntry] {
        text.split(separator: "\n").compactMap { raw in
            let line = String(raw)
            guard !line.hasPrefix(";"), let semi = line.firstIndex(of: ";"), let id = Int(line[..<semi]) else {
                return nil
            }
            var fields = line[line.index(after: semi)...].split(separator: " ", omittingEmptySubsequences: true).map(
                String.init)
            guard fields.count >= 3 else { return nil }
            fields.removeFirst(2)  // catalog class and OID
            let rest = fields.joined(separator: " ")
            let type = multiWordTypes.first { rest.hasPrefix($0 + " ") } ?? fields[0]
            var words = rest.dropFirst(type.count).split(separator: " ").map(String.init)
            guard words.count >= 2 else {
                return TOCEntry(id: id, type: type, schema: "", tag: words.first ?? "", line: line)
            }
            words.removeLast()  // owner
            let schema = words.removeFirst()
            return TOCEntry(
                id: id, type: type, schema: schema == "-" ? "" : schema, tag: words.joined(separator: " "), line: line)
        }
    }

    /// Parses the "-- TOC entry N" / "-- Dependencies: ..." headers of verbose pg_restore output.
    public static func parseDependencies(_ text: String) -> [Int: [Int]] {
        var deps: [Int: [Int]] = [:]
        var current: Int?
        for raw in text.split(separator: "\n") where raw.hasPrefix("-- ") {
            if raw.hasPrefix("-- TOC entry ") {
                current = Int(raw.dropFirst("-- TOC entry ".count).prefix { $0.isNumber })
            } else if raw.hasPrefix("-- Dependencies: "), let c = current {
                deps[c] = raw.dropFirst("-- Dependencies: ".count).split(separator: " ").compactMap { Int($0) }
            }
        }
        return deps
    }

    /// The entries to restore for `tables` (each `table` or `schema.table`). `exists` says whether
    /// the target already has a supporting object (type, name with schema) so it is not recreated.
    public static func select(
        entries: [TOCEntry], tables: [String],
        exists: (TOCEntry) throws -> Bool
    ) throws -> [TOCEntry] {
        let byId = Dictionary(entries.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var chosen = Set<Int>()
        var tableIds = Set<Int>()
        for name in tables {
            let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
            let matches = entries.filter { e in
                e.type == "TABLE" && (parts.count == 2 ? (e.schema == parts[0] && e.tag == parts[1]) : e.tag == name)
            }
            guard !matches.isEmpty else {
                throw PGKeepError(
                    .usage, "table \"\(name)\" is not in the archive",
                    hint: "pgkeep restore lists what it restores; gunzip -c FILE | pg_restore --list shows every table")
            }
            tableIds.formUnion(matches.map(\.id))
        }
        chosen.formUnion(tableIds)
        let tableKeys = Set(tableIds.compactMap { byId[$0] }.map { "\($0.schema).\($0.tag)" })
        for e in entries where e.type == "TABLE DATA" && tableKeys.contains("\(e.schema).\(e.tag)") {
            chosen.insert(e.id)
        }
        let tableTypes: Set<String> = ["TABLE", "FOREIGN TABLE", "VIEW", "MATERIALIZED VIEW"]
        for e in entries where attached.contains(e.type) {
            let relationDeps = e.dependencies.filter { byId[$0].map { tableTypes.contains($0.type) } ?? false }
            if !relationDeps.isEmpty && relationDeps.allSatisfy(tableIds.contains) {
                chosen.insert(e.id)
            }
        }
        // What hangs on those in turn: the comment on an index or a constraint depends on the
        // index or constraint, not on the table.
        var grew = true
        while grew {
            grew = false
            for e in entries where attached.contains(e.type) && !chosen.contains(e.id) && !e.dependencies.isEmpty {
                if e.dependencies.allSatisfy(chosen.contains) {
                    chosen.insert(e.id)
                    grew = true
                }
            }
        }
        // What the chosen entries rely on, transitively, unless the target already has it.
        var queue = Array(chosen)
        while let id = queue.popLast() {
            for dep in byId[id]?.dependencies ?? [] where !chosen.contains(dep) {
                guard let d = byId[dep], supporting.contains(d.type), try !exists(d) else { continue }
                chosen.insert(dep)
                queue.append(dep)
                // A sequence comes with its ownership and current value.
                if d.type == "SEQUENCE" {
                    for e in entries
                    where (e.type == "SEQUENCE SET" || e.type == "SEQUENCE OWNED BY") && e.schema == d.schema
                        && e.tag == d.tag
                    {
                        chosen.insert(e.id)
                    }
                }
            }
        }
        return entries.filter { chosen.contains($0.id) }
    }

    /// A catalog query that is true when the target already has the supporting object.
    public static func existsQuery(_ e: TOCEntry, literal: (String) -> String) -> String? {
        let qualified = e.schema.isEmpty ? e.tag : "\(e.schema).\(e.tag)"
        switch e.type {
        case "SCHEMA": return "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = \(literal(e.tag))"
        case "SEQUENCE":
            return "SELECT 1 WHERE to_regclass(\(literal(quoteIdent(e.schema) + "." + quoteIdent(e.tag)))) IS NOT NULL"
        case "TYPE", "DOMAIN":
            return "SELECT 1 WHERE to_regtype(\(literal(quoteIdent(e.schema) + "." + quoteIdent(e.tag)))) IS NOT NULL"
        case "FUNCTION":
            // The tag is the signature, e.g. "last_updated()".
            return "SELECT 1 WHERE to_regprocedure(\(literal(quoteIdent(e.schema) + "." + e.tag))) IS NOT NULL"
        case "COLLATION": return "SELECT 1 WHERE to_regcollation(\(literal(qualified))) IS NOT NULL"
        default: return nil
        }
    }

    static func quoteIdent(_ s: String) -> String {
        let plain = s.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" } && !(s.first?.isNumber ?? true)
        return plain ? s : "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
