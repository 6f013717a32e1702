import Foundation

/// What a restore learns of the backup's tables before it writes: the table of contents (read
/// once) and the tables the conflict check compares with the target's.
extension RestoreJob {
    func tableOfContents() throws -> [TOCEntry] {
        if let toc { return toc }
        let staged = try stagedArchive()
        let (listing, result) = try capture(
            try endpoint.tool("pg_restore", database: nil, arguments: ["--list"] + (staged.map { [$0] } ?? [])),
            feedInput: staged == nil)
        guard result.succeeded else { throw result.failure("pg_restore --list failed") }
        let entries = TableSelection.parseList(String(decoding: listing, as: UTF8.self))
        toc = entries
        return entries
    }

    /// The tables the backup holds (as format('%I.%I') writes them), when that can be known before
    /// the restore: an archive's table of contents, else the manifest's row counts. nil: unknown
    /// (a SQL script without them, a backup streamed from a remote), and every target table counts.
    func archiveTables() throws -> Set<String>? {
        guard input.kind.isArchive, input.stream == nil else { return input.manifest?.rowCounts.map { Set($0.keys) } }
        // TABLE entries, and TABLE DATA ones (a data-only archive has only these); the server
        // quotes the names, so `order` comes back as "order", as the target's list has it.
        let pairs = Set(
            try tableOfContents().filter { $0.type == "TABLE" || $0.type == "TABLE DATA" }.map { [$0.schema, $0.tag] })
        guard !pairs.isEmpty else { return [] }
        let values = pairs.map { "(\(SQL.literal($0[0])), \(SQL.literal($0[1])))" }.joined(separator: ", ")
        return Set(
            try query("SELECT format('%I.%I', s, t) FROM (VALUES \(values)) AS x(s, t)").compactMap { $0.first ?? nil })
    }

    /// Of `tables`, those this restore writes: the ones named by --table or in a --schema, or all.
    func written(_ tables: [String]) -> [String] {
        if !options.tables.isEmpty { return tables.filter { t in options.tables.contains { matches(t, $0) } } }
        if !options.schemas.isEmpty {
            return tables.filter { t in options.schemas.contains { t.hasPrefix(TableSelection.quoteIdent($0) + ".") } }
        }
        return tables
    }

    /// `qualified` is "schema.table" as format('%I.%I') writes it; `name` is "table" or "schema.table".
    func matches(_ qualified: String, _ name: String) -> Bool {
        let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
        let wanted =
            parts.count == 2
            ? TableSelection.quoteIdent(parts[0]) + "." + TableSelection.quoteIdent(parts[1])
            : TableSelection.quoteIdent(name)
        return parts.count == 2 ? qualified == wanted : qualified.hasSuffix("." + wanted)
    }

    func selectTables(staged: String?) throws -> [TOCEntry] {
        let feedInput = staged == nil
        let source = staged.map { [$0] } ?? []
        let (verbose, r2) = try capture(
            try endpoint.tool(
                "pg_restore", database: nil, arguments: ["--schema-only", "--verbose", "--file=-"] + source),
            feedInput: feedInput)
        guard r2.succeeded else { throw r2.failure("pg_restore could not print the archive's definitions") }
        var entries = try tableOfContents()
        let deps = TableSelection.parseDependencies(String(decoding: verbose, as: UTF8.self))
        for i in entries.indices { entries[i].dependencies = deps[entries[i].id] ?? [] }
        return try TableSelection.select(entries: entries, tables: options.tables) { entry in
            guard let sql = TableSelection.existsQuery(entry, literal: SQL.literal) else { return false }
            return try !query(sql).isEmpty
        }
    }
}
