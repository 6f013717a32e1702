import Foundation

/// What `pg_restore --create` restores of the database itself, read from an archive: its
/// CREATE DATABASE (encoding, locale and collation, template0), owner, `ALTER DATABASE ... SET`
/// settings, comment and privileges; renamed when the target has another name. SQL backups
/// (made without pg_dump --create) carry none of it.
struct DatabaseDefinition: Equatable {
    /// CREATE DATABASE, run from the maintenance database.
    var create: String
    /// The rest, in archive order: owner, settings, comment, privileges.
    var properties: [String]

    /// Parses `pg_restore --create --schema-only` output: the statements of the entries of type
    /// DATABASE and DATABASE PROPERTIES, and the COMMENT and ACL entries named `DATABASE <name>`.
    /// Nil when the archive has no DATABASE entry.
    static func parse(_ script: String, renamingTo target: String, noOwner: Bool, noPrivileges: Bool)
        -> DatabaseDefinition?
    {
        var statements: [(type: String, sql: String)] = []
        var type: String?
        var original: String?
        var pending = ""
        for raw in script.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.hasPrefix("-- Name: ") {
                let fields = line.dropFirst("-- Name: ".count).components(separatedBy: "; ")
                let name = fields.first ?? ""
                let kind = fields.first { $0.hasPrefix("Type: ") }.map { String($0.dropFirst(6)) } ?? ""
                switch kind {
                case "DATABASE":
                    type = kind
                    original = name
                case "DATABASE PROPERTIES": type = kind
                case "COMMENT", "ACL": type = name.hasPrefix("DATABASE ") ? kind : nil
                default: type = nil
                }
                continue
            }
            guard let current = type, !line.hasPrefix("--"), !line.hasPrefix("\\") else { continue }
            pending += (pending.isEmpty ? "" : "\n") + line
            if line.hasSuffix(";") {
                let sql = pending.trimmingCharacters(in: .whitespacesAndNewlines)
                if !sql.isEmpty && !sql.hasPrefix("SET ") && !sql.hasPrefix("SELECT pg_catalog.set_config") {
                    statements.append((current, sql))
                }
                pending = ""
            }
        }
        guard let original, let createIndex = statements.firstIndex(where: { $0.sql.hasPrefix("CREATE DATABASE ") })
        else { return nil }
        let rename = { (sql: String) in Self.rename(sql, from: original, to: target) }
        let rest = statements.enumerated().filter { $0.offset != createIndex }.map(\.element).filter { s in
            if noOwner && s.sql.contains(" OWNER TO ") { return false }
            if noPrivileges && s.type == "ACL" { return false }
            return true
        }
        return DatabaseDefinition(create: rename(statements[createIndex].sql), properties: rest.map { rename($0.sql) })
    }

    /// The statement's `DATABASE <original>` (as pg_dump quotes it) becomes `DATABASE <target>`:
    /// the first occurrence only, which names the database in every statement pg_dump writes for it
    /// (a comment's text, after it, keeps what it says).
    static func rename(_ sql: String, from original: String, to target: String) -> String {
        guard original != target else { return sql }
        let candidates = [SQL.identifier(original), original].flatMap { form in
            [" ", ";", "\n"].compactMap { end in sql.range(of: "DATABASE " + form + end).map { ($0, end) } }
        }
        guard let (range, end) = candidates.min(by: { $0.0.lowerBound < $1.0.lowerBound }) else { return sql }
        return sql.replacingCharacters(in: range, with: "DATABASE " + SQL.identifier(target) + end)
    }
}

extension RestoreJob {
    /// Creates the target as `pg_restore --create` would from an archive (encoding, locale,
    /// settings, comment, privileges, under the target's name), else UTF8 from template0.
    func createDatabase() throws {
        if let definition = try readDefinition() {
            _ = try maintenanceQuery(definition.create)
            for sql in definition.properties { _ = try maintenanceQuery(sql) }
            onStatus?(
                "created database \"\(database)\" as the archive defines it (\(definition.properties.count + 1) statements)"
            )
            return
        }
        _ = try maintenanceQuery("CREATE DATABASE \(SQL.identifier(database)) TEMPLATE template0 ENCODING 'UTF8'")
        onStatus?("created database \"\(database)\"")
    }

    /// The archive's database definition (nil for SQL scripts, streamed backups, archives without one).
    func readDefinition() throws -> DatabaseDefinition? {
        guard input.stream == nil else { return nil }
        if input.kind.isScript { return nil }
        let staged = try stagedArchive()
        let command = try endpoint.tool(
            "pg_restore", database: nil,
            arguments: ["--create", "--schema-only", "--section=pre-data", "--file=-"] + (staged.map { [$0] } ?? []))
        let (script, result) = try capture(command, feedInput: staged == nil)
        guard result.succeeded else {
            throw result.failure("pg_restore could not read the archive's database definition")
        }
        return DatabaseDefinition.parse(
            String(decoding: script, as: UTF8.self), renamingTo: database, noOwner: options.noOwner,
            noPrivileges: options.noPrivileges)
    }
}
