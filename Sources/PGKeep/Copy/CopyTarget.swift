import Foundation

/// The target side of a copy: checks before, the database built under a scratch name, its
/// validation, its rename into place, and its removal on failure.
extension CopyJob {
    /// Refuses a client older than either server, listing the clients found.
    static func requireClient(_ tools: PostgresTools, servers: [ServerInfo], environment: [String: String]) throws {
        let dump = try tools.path(of: "pg_dump")
        let version = try tools.version(of: dump, environment: environment)
        guard let newest = servers.max(by: { $0.majorKey < $1.majorKey }) else { return }
        try checkDumpVersion(version, server: newest, dumpPath: dump, found: tools.foundText)
    }

    /// The target database must not exist, unless --clean --yes replaces it.
    func targetExists() throws -> Bool {
        try !target.maintenance("SELECT 1 FROM pg_catalog.pg_database WHERE datname = \(SQL.literal(target.database))")
            .isEmpty
    }

    func checkTarget() throws {
        guard try targetExists() else { return }
        if !options.clean {
            throw PGKeepError(
                .usage, "database \"\(target.database)\" already exists on \(target.display)",
                hint: "copy into a new name (--to .../NAME), or replace it with --clean --yes")
        }
        if !options.yes {
            throw PGKeepError(
                .usage, "--clean would replace database \"\(target.database)\" on \(target.display)",
                hint: "add --yes to confirm")
        }
    }

    /// Takes ACCESS SHARE locks on the tables for the whole copy, as pg_dump does: no one can
    /// drop or alter them until the copy has read them.
    static func lock(_ tables: [CopyTable], on control: any SQLSession) throws {
        var index = 0
        while index < tables.count {
            let batch = tables[index..<min(tables.count, index + 500)].map(\.name).joined(separator: ", ")
            try control.execute("LOCK TABLE \(batch) IN ACCESS SHARE MODE", what: "locking the source tables")
            index += 500
        }
    }

    /// CREATE DATABASE as `pg_restore --create` would (encoding, locale, settings, comment,
    /// privileges), under `name`; `--locale` replaces the source's locale.
    func createDatabase(_ name: String, archive: String) throws {
        let script = try target.archiveTool(
            "pg_restore", arguments: ["--create", "--schema-only", "--section=pre-data", "--file=-", archive],
            what: "pg_restore reading the database definition")
        guard
            var definition = DatabaseDefinition.parse(
                String(decoding: script, as: UTF8.self), renamingTo: name, noOwner: false, noPrivileges: false)
        else {
            throw PGKeepError(.backup, "pg_dump's archive of \(source.display) holds no database definition")
        }
        if let locale = options.locale { definition.create = Self.replacingLocale(definition.create, with: locale) }
        do {
            _ = try target.maintenance(definition.create)
        } catch let error as PGKeepError where Self.isLocaleProblem(error.message) {
            throw PGKeepError(
                .preflight,
                "the target server cannot create the database with the source's locale: "
                    + error.message.replacingOccurrences(of: "query failed: ", with: ""),
                command: definition.create,
                hint: "choose a locale the target has with --locale (e.g. --locale C.UTF-8; `locale -a` on the "
                    + "target's machine lists them)")
        }
        for sql in definition.properties { _ = try target.maintenance(sql) }
    }

    static func isLocaleProblem(_ message: String) -> Bool {
        ["invalid locale name", "locale", "collation", "LC_COLLATE", "LC_CTYPE"].contains { message.contains($0) }
            && !message.contains("already exists")
    }

    /// CREATE DATABASE with `locale` for LOCALE, LC_COLLATE and LC_CTYPE (libc provider).
    static func replacingLocale(_ create: String, with locale: String) -> String {
        var sql = create
        for key in ["ICU_LOCALE", "LC_COLLATE", "LC_CTYPE", "LOCALE", "LOCALE_PROVIDER", "ICU_RULES"] {
            if let regex = try? NSRegularExpression(pattern: " \(key) = (?:'(?:[^']|'')*'|\\w+)") {
                sql = regex.stringByReplacingMatches(
                    in: sql, range: NSRange(sql.startIndex..., in: sql), withTemplate: "")
            }
        }
        if sql.hasSuffix(";") { sql.removeLast() }
        return sql + " LOCALE_PROVIDER = libc LOCALE = \(SQL.literal(locale));"
    }

    /// pg_restore of some sections of the archive into the copy. Into a docker compose service,
    /// this machine's pg_restore writes the SQL (it reads the archive its own pg_dump or the
    /// source's wrote) and the service's psql runs it, stopping at the first error.
    func restore(_ archive: String, into database: String, arguments: [String]) throws {
        let what = "pg_restore \(arguments.joined(separator: " ")) into the copy"
        guard target.compose != nil else {
            try target.run(
                "pg_restore", database: database, arguments: ["--exit-on-error"] + arguments + [archive], what: what)
            return
        }
        // Straight into a file (the data section carries the large objects): never whole in memory.
        let script = FileSystem.parent(of: archive) + "/restore.sql"
        unlink(script)
        try target.archiveTool(
            "pg_restore", arguments: ["--file=-"] + arguments.filter { !$0.hasPrefix("--jobs") } + [archive],
            output: script, what: what)
        try target.run(
            "psql", database: database, arguments: ["-X", "-q", "-v", "ON_ERROR_STOP=1", "--file=-"], input: script,
            what: what + " (psql in the service)")
    }

    /// The comparison of the copy (under its scratch name) with the source in the copy's snapshot;
    /// the source's sequences and schema are what pg_dump read in that snapshot.
    func validate(_ building: String, snapshot: String, archive: String, acrossVersions: Bool) throws -> Comparison {
        let a = try source.sessions(count: options.jobs, snapshot: snapshot)
        let b = try target.sessions(building, count: options.jobs, snapshot: nil)
        let schemaArgs = ["--schema-only", "--file=-"]
        let sourceSchema = try target.archiveTool(
            "pg_restore", arguments: schemaArgs + [archive], what: "pg_restore --schema-only")
        let targetSnapshot = try b[0].query("SELECT pg_catalog.pg_export_snapshot()").first?[0] ?? nil
        let targetSchema = try target.run(
            "pg_dump", database: building, arguments: schemaArgs + (targetSnapshot.map { ["--snapshot=\($0)"] } ?? []),
            what: "pg_dump --schema-only of the copy")
        let sequenceScript = try target.archiveTool(
            "pg_restore", arguments: ["--data-only", "--file=-", "--use-list=\(try sequenceList(archive))", archive],
            what: "pg_restore reading the sequences")
        var comparison = try CompareJob.compare(
            source: (source.display, a), target: (target.display, b),
            sourceSequences: CopyCatalog.sequenceValues(fromScript: String(decoding: sequenceScript, as: UTF8.self)),
            schemas: (String(decoding: sourceSchema, as: UTF8.self), String(decoding: targetSchema, as: UTF8.self)),
            acrossVersions: acrossVersions)
        comparison.target = target.display
        return comparison
    }

    /// A pg_restore list file naming the archive's SEQUENCE SET entries only.
    func sequenceList(_ archive: String) throws -> String {
        let listing = try target.archiveTool("pg_restore", arguments: ["--list", archive], what: "pg_restore --list")
        let lines = String(decoding: listing, as: UTF8.self).split(separator: "\n").filter {
            $0.contains(" SEQUENCE SET ")
        }
        let path = FileSystem.parent(of: archive) + "/sequences.list"
        try FileSystem.writePrivateFile(path, data: Data((lines.joined(separator: "\n") + "\n").utf8))
        return path
    }

    /// Renames the finished copy to its real name (dropping the database it replaces with --clean).
    func putInPlace(_ building: String) throws {
        if options.clean {
            for sql in SQL.dropDatabase(target.database) {
                if (try? target.maintenance(sql)) != nil { break }
            }
        }
        _ = try target.maintenance(
            "ALTER DATABASE \(SQL.identifier(building)) RENAME TO \(SQL.identifier(target.database))")
        onStatus?("copied into \(target.display)")
    }

    /// On SIGINT/SIGTERM, after the children are stopped: drop the half-built copy.
    func registerDrop(_ name: String) -> Int {
        Cancellation.shared.register(
            cleanup: { [self] in
                let dropped = dropScratch(name)
                Console.err(
                    dropped
                        ? "pgkeep: dropped database \"\(name)\", the unfinished copy\n"
                        : "pgkeep: could not drop database \"\(name)\", the unfinished copy: drop it by hand\n")
            }, stage: .databases)
    }

    /// Drops the half-built copy; true when it is gone.
    /// Drops the unfinished copy; `patience`: seconds to keep trying while the target server
    /// comes back (none in a signal's cleanup).
    func dropScratch(_ name: String, patience: TimeInterval = 0) -> Bool {
        DatabaseDrop.drop(name, patience: patience) { _ = try target.maintenance($0) } == nil
    }

    static func explain(_ error: Error, dropped: Bool, name: String) -> Error {
        let note =
            dropped
            ? "the unfinished copy (database \"\(name)\") was dropped; the target is as it was"
            : "could not drop the unfinished copy, database \"\(name)\": drop it by hand (DROP DATABASE)"
        if var e = error as? PGKeepError {
            e.message += "; " + note
            return e
        }
        if error is CopyMismatch { return error }
        return PGKeepError(.backup, "\(error); " + note)
    }
}
