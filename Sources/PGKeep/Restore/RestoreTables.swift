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
}
