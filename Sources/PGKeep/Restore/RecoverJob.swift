import Foundation

/// `pgkeep recover`: rows of one table brought back from a backup into the live table, without
/// restoring anything else. In one transaction of one session on the live database: a scratch
/// schema gets a copy of the table's columns (`LIKE`), the backup's rows for the table are loaded
/// into it (`pg_restore --data-only --table`, its COPY data streamed through libpq), and compared
/// with the live table by key: rows deleted since the backup, rows changed, rows added. `--sql`
/// writes the statements that bring back the deleted and changed rows (the added ones stay);
/// `--apply` runs them in that same transaction. The transaction then commits only with
/// `--apply` (the scratch schema dropped in it) and is rolled back otherwise, so the scratch
/// schema never outlives the run, even after a SIGKILL, and the live table is only ever changed
/// all at once.
public final class RecoverJob {
    public struct Options: Sendable {
        public var table: String
        /// Columns that identify a row (default: the live table's primary key).
        public var key: [String] = []
        public var sqlFile: String?
        public var apply = false

        public init(table: String) { self.table = table }
    }

    public struct Result: Sendable {
        public var table: String
        public var key: [String]
        public var backupRows: Int
        public var deleted: Int
        public var changed: Int
        public var added: Int
        public var applied: Bool
        public var sqlFile: String?
    }

    let input: RestoreInput
    let endpoint: LocalRestoreEndpoint
    let database: String
    let options: Options
    public var onStatus: ((String) -> Void)?

    public init(input: RestoreInput, options: Options, database: String, endpoint: LocalRestoreEndpoint) {
        self.input = input
        self.options = options
        self.database = database
        self.endpoint = endpoint
    }

    public func run() throws -> Result {
        guard input.kind.isArchive else {
            throw PGKeepError(
                .usage, "recover needs an archive (custom or directory format); \(input.origin) is a SQL script",
                hint: "restore the script into a new database and copy the rows from there")
        }
        let checked = try input.check { path in
            try self.endpoint.tool("pg_restore", database: nil, arguments: ["--list"] + (path.map { [$0] } ?? []))
        }
        onStatus?("checked \(input.origin): \(checked)")
        let live = try PostgresConnection(spec: endpoint.spec, database: database)
        try live.execute("BEGIN", what: "starting the recovery")
        var committed = false
        defer { if !committed { _ = try? live.execute("ROLLBACK", what: "ending the recovery") } }
        // A table named without its schema is looked up as psql would by default.
        try live.execute(
            "SET search_path = \"$user\", public; SET client_min_messages = warning", what: "preparing the session")
        let target = try RecoverTable.resolve(options.table, key: options.key, in: live, database: database)
        for setting in Fingerprints.settings { try live.execute(setting, what: "preparing the session") }
        let scratch = "pgkeep_recover_\(getpid())_\(ChildEnvironment.processTag)"
        try live.execute(
            "CREATE SCHEMA \(SQL.identifier(scratch)); "
                + "CREATE UNLOGGED TABLE \(SQL.identifier(scratch)).backup AS SELECT * FROM \(target.name) WITH NO DATA",
            what: "creating the scratch schema \(scratch)")
        var mark = Date()
        let loaded = try load(target, into: "\(SQL.identifier(scratch)).backup", live: live)
        mark = Trace.phase("load", since: mark)
        let sides = RecoverTable.Sides(
            live: target.name, backup: "\(SQL.identifier(scratch)).backup", key: target.key, columns: loaded.columns,
            comparable: try RecoverTable.Sides.comparableColumns(of: target.name, in: live))
        try live.execute("ANALYZE \(sides.backup)", what: "analysing the scratch table")
        if !options.key.isEmpty, let nulls = try live.query(sides.nullKeysSQL).first?.first ?? nil, nulls != "0" {
            throw PGKeepError(
                .usage,
                "--key \(options.key.joined(separator: ",")): \(nulls) of the backup's rows have no value in it",
                hint: "name columns that are never NULL: a row without a key cannot be matched")
        }
        if !options.key.isEmpty, let dup = try live.query(sides.duplicateKeysSQL).first?.first ?? nil, dup != "0" {
            throw PGKeepError(
                .usage, "--key \(options.key.joined(separator: ",")) is not unique in the backup's \(target.name)",
                hint: "name columns that identify one row")
        }
        mark = Trace.phase("analyse and key checks", since: mark)
        // The comparison hashes one side: room for it in memory, for this transaction only.
        try live.execute("SET LOCAL work_mem = '256MB'", what: "preparing the comparison")
        let counts = try live.query(sides.countsSQL).first ?? []
        Trace.phase("compare", since: mark)
        var result = Result(
            table: target.name, key: target.key, backupRows: loaded.rows,
            deleted: Int(counts.first.flatMap { $0 } ?? "") ?? 0,
            changed: Int(counts.dropFirst().first.flatMap { $0 } ?? "") ?? 0,
            added: Int(counts.dropFirst(2).first.flatMap { $0 } ?? "") ?? 0, applied: false, sqlFile: options.sqlFile)
        onStatus?(
            "\(target.name): \(result.deleted) rows deleted since the backup, \(result.changed) changed, "
                + "\(result.added) added (the backup had \(result.backupRows))")
        if let file = options.sqlFile { try sides.writeSQL(to: file, live: live, origin: input.origin) }
        if options.apply {
            let done = try sides.apply(live)
            guard done.inserted == result.deleted, done.updated == result.changed else {
                throw PGKeepError(
                    .backup,
                    "\(target.name) changed while it was recovered (\(done.inserted) rows inserted, \(done.updated) "
                        + "updated, where \(result.deleted) and \(result.changed) were counted); nothing was applied")
            }
            try live.execute("DROP SCHEMA \(SQL.identifier(scratch)) CASCADE", what: "dropping the scratch schema")
            try live.execute("COMMIT", what: "committing the recovery")
            committed = true
            result.applied = true
        }
        return result
    }

    /// The backup's rows of the table, streamed from pg_restore into the scratch table.
    private func load(_ target: RecoverTable, into scratch: String, live: PostgresConnection) throws
        -> (columns: String, rows: Int)
    {
        let path = try endpoint.stage(input, needsFile: false)
        let args = ["--data-only", "--table=\(target.relname)", "--schema=\(target.nspname)", "--file=-"]
        let command = try endpoint.tool("pg_restore", database: nil, arguments: args + (path.map { [$0] } ?? []))
        let feed = path == nil
        let child = ChildProcess(command, stdin: feed ? .pipe : .null, stdout: .pipe)
        try child.start()
        let feeding = RestoreFeed.start(feed ? input : nil, to: child)
        var extractor = CopyDataExtractor(table: target.name)
        var pending = Data()
        FileSystem.readChunks(child.stdoutDescriptor) { chunk in
            try? extractor.feed(chunk) { pending.append(contentsOf: $0) }
            return extractor.columns == nil
        }
        var rows = 0
        if let columns = extractor.columns {
            rows = try live.copyIn("COPY \(scratch) \(columns) FROM STDIN") { put in
                try pending.withUnsafeBytes { try put($0) }
                var failure: Error?
                FileSystem.readChunks(child.stdoutDescriptor) { chunk in
                    do { try extractor.feed(chunk, send: put) } catch {
                        failure = error
                        return false
                    }
                    return !extractor.finished
                }
                if let failure { throw failure }
            }
        }
        // What follows the table's data is not needed: read it away so pg_restore ends.
        FileSystem.readChunks(child.stdoutDescriptor) { _ in true }
        child.closeStdout()
        let fedError = feeding.wait()
        let result = child.wait()
        guard result.succeeded else {
            throw result.failure("pg_restore could not read \(target.name)'s data from \(input.origin)")
        }
        if let fedError { throw fedError }
        guard let columns = extractor.columns, extractor.finished else {
            throw PGKeepError(
                .usage, "\(input.origin) holds no data for \(target.name)",
                hint: "pg_restore --list shows what the backup holds")
        }
        return (columns, rows)
    }
}
