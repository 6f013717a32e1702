import Foundation

/// Restores a backup: the backup is checked before the target is touched, the target's state is
/// checked against what the restore would do, and the restore stops at the first error, in one
/// transaction unless --jobs asks for parallelism, so a failed restore leaves the target as it was.
public final class RestoreJob {
    public let input: RestoreInput
    public let options: RestoreOptions
    public let database: String
    public let endpoint: RestoreEndpoint
    /// Asks the user to confirm a destructive restore (nil when stdin is not a terminal).
    public var confirm: ((String) -> Bool)?
    /// Progress messages for the user (stderr).
    public var onStatus: ((String) -> Void)?

    public init(input: RestoreInput, options: RestoreOptions, database: String, endpoint: RestoreEndpoint) {
        self.input = input
        self.options = options
        self.database = database
        self.endpoint = endpoint
    }

    func query(_ sql: String) throws -> [[String?]] { try endpoint.query(sql, database: database) }

    /// The maintenance database, to look at or create the target.
    func maintenanceQuery(_ sql: String) throws -> [[String?]] {
        do { return try endpoint.query(sql, database: "postgres") } catch {
            return try endpoint.query(sql, database: "template1")
        }
    }

    public func run() throws -> RestoreResult {
        let started = Date()
        try options.validate(for: input.kind)
        if ["template0", "template1"].contains(database) {
            throw PGKeepError(
                .usage, "refusing to restore into \(database): it is a template every new database is copied from")
        }
        defer { endpoint.cleanUp() }
        if options.verify && input.manifest?.rowCounts == nil {
            throw PGKeepError(
                .usage, "--verify needs row counts in the manifest, and \(input.origin) has none",
                hint: "take backups with pgkeep backup --row-counts")
        }
        // 1. The backup, before anything else. A streamed one (from object storage) is checked as
        // it is restored, and its single transaction is not let commit unless the check passes; so
        // is a local one restored whole in one pass (`onePass`).
        let checked: String
        if input.stream != nil {
            guard options.singleTransaction, !options.isPartial, endpoint.runsHere else {
                throw PGKeepError(
                    .usage,
                    "a backup restored while it downloads must be restored whole, in one transaction, on this machine")
            }
            checked = "sha256 and size checked against the manifest as it streamed, before the transaction committed"
        } else if onePass {
            let (commits, committed) =
                options.singleTransaction
                ? ("the transaction commits", "the transaction committed") : ("pg_restore starts", "pg_restore started")
            onStatus?(
                "reading \(input.origin) once: its sha256 and size are checked against the manifest before \(commits)")
            checked = "sha256 and size checked against the manifest as it was read, before \(committed)"
        } else {
            checked = try input.check { path in
                try self.endpoint.tool("pg_restore", database: nil, arguments: ["--list"] + (path.map { [$0] } ?? []))
            }
            onStatus?("checked \(input.origin): \(checked)")
        }
        Trace.phase("check backup", since: started)
        timeline.checked = Date()

        // 2. The target.
        var created = false
        if try maintenanceQuery("SELECT 1 FROM pg_catalog.pg_database WHERE datname = \(SQL.literal(database))").isEmpty
        {
            guard options.create else {
                throw PGKeepError(
                    .preflight,
                    "\(endpoint.describe(database: database)) does not exist; add --create to create it (UTF8, from "
                        + "template0)"
                )
            }
            try createDatabase()
            created = true
        }
        let watch = endpoint.serverWatch(database: database)
        watch?.start()
        defer { watch?.stop() }
        do {
            return try Watchdog.shared.phase("restoring into \"\(database)\"", watched: watch != nil) {
                try restore(started: started, checked: checked)
            }
        } catch {
            let explained =
                watch?.explain(
                    error, what: "the restore into \"\(database)\"",
                    outcome: committed ? "what was restored before stays" : "nothing was changed") ?? error
            // A database this restore created goes again unless the restore committed into it.
            guard created && !committed else { throw explained }
            throw dropCreated(after: explained)
        }
    }

    /// When each phase ended, for the result's timings.
    var timeline = RestoreTimeline()

    /// Set once the restore's data is permanent (psql's COMMIT, or a --jobs pg_restore that
    /// finished): from then on no failure drops the database or calls the restore failed.
    private var committed = false

    /// How long a failed restore keeps trying to drop the database it created.
    var dropPatience: TimeInterval = 60

    /// Whether the backup is read once, checked as it is restored instead of before: a local,
    /// whole restore of a file with a manifest that pgkeep reads itself (a compressed one, or a SQL
    /// script), where the restore's one read can hold back its end. In one transaction, pgkeep's
    /// COMMIT waits for the check (`ScriptPipeline`); with --jobs, the file is checked as it is
    /// decompressed into the scratch file, before pg_restore starts.
    var onePass: Bool {
        guard input.stream == nil, input.manifest != nil, !options.isPartial, endpoint.runsHere else { return false }
        return input.kind.codec != nil || (input.kind.isScript && options.singleTransaction)
    }

    /// The input as the restore reads it: in one pass, checked as it is read.
    var restoreRead: RestoreInput {
        var read = input
        read.checkedAsRead = onePass
        return read
    }

    /// The archive where the endpoint's tools read it, staged once (nil: streamed from here).
    private var staged: String??

    func stagedArchive() throws -> String? {
        if let staged { return staged }
        let path = try endpoint.stage(restoreRead, needsFile: options.jobs > 1)
        staged = .some(path)
        return path
    }

    private func restore(started: Date, checked: String) throws -> RestoreResult {
        let mark = Date()
        let before = try TargetCatalog.userTables(query)
        // A data-only restore writes into existing tables by design. The conflicts are the
        // target's tables that this restore writes and the backup holds.
        let archive = options.dataOnly ? nil : try archiveTables()
        let conflicts = options.dataOnly ? [] : written(before).filter { archive?.contains($0) ?? true }
        if !conflicts.isEmpty && !options.clean {
            let shown = conflicts.prefix(5).joined(separator: ", ") + (conflicts.count > 5 ? ", ..." : "")
            throw PGKeepError(
                .usage,
                "database \"\(database)\" already has \(conflicts.count) of the tables this restore writes "
                    + "(\(shown)); nothing was changed",
                hint: "add --clean to drop the archive's objects first, or restore into a new database with --create")
        }
        if options.clean {
            let question =
                "This drops and recreates the backup's objects in database \"\(database)\" (\(conflicts.count) "
                + "existing tables affected)."
            if !options.yes {
                guard let confirm else {
                    throw PGKeepError(
                        .usage,
                        "a restore with --clean replaces objects in \"\(database)\"; without a terminal to confirm, "
                            + "add --yes"
                    )
                }
                guard confirm(question) else { throw PGKeepError(.usage, "not confirmed; nothing was changed") }
            }
        }

        // 3. The restore. A SQL script is read here and streamed into psql (on this machine or in
        // the container) inside pgkeep's transaction; an archive is first made readable where the
        // tools run (in a container: a copy checked there), then pg_restore writes the script.
        let result: ProcessResult
        var copied: [String: Int]?
        if input.kind.isScript {
            (result, copied) = try runScript(from: .file(restoreRead), tolerantDrops: false)
        } else {
            let staged = try stagedArchive()
            // Not staged: a compressed input that is decompressed here into the tool's stdin.
            let streamed = staged == nil
            var args = options.pgRestoreArguments
            if !options.tables.isEmpty {
                let selection = try selectTables(staged: staged)
                let list = Data((selection.map(\.line).joined(separator: "\n") + "\n").utf8)
                args.append("--use-list=\(try endpoint.put(list, name: "use.list"))")
                onStatus?("restoring \(selection.count) archive entries for \(options.tables.joined(separator: ", "))")
            }
            if let staged { args.append(staged) }
            if options.singleTransaction {
                // pg_restore writes the script, psql runs it in pgkeep's transaction (ScriptPipeline).
                let scriptArgs = ["--file=-"] + args.filter { $0 != "--exit-on-error" && $0 != "--single-transaction" }
                let script = try endpoint.tool("pg_restore", database: nil, arguments: scriptArgs)
                (result, copied) = try runScript(
                    from: .command(script, feedInput: streamed), tolerantDrops: options.clean)
            } else {
                result = try runFeeding(
                    try endpoint.tool("pg_restore", database: database, arguments: args), feedInput: streamed)
            }
        }
        guard result.succeeded else {
            // Read once, the backup was not read to its end when the restore stopped: damage may
            // be what stopped it (garbage that psql refused). It is read whole now, to say so.
            if onePass, let manifest = input.manifest { _ = try input.checkAgainst(manifest) }
            throw failure(result)
        }
        timeline.restored = Date()
        committed = true
        Trace.phase("restore", since: mark)
        do {
            return try report(started: started, checked: checked, copied: copied)
        } catch {
            let reason = (error as? PGKeepError)?.message ?? "\(error)"
            throw PGKeepError(
                .unchecked,
                "restored and committed into \"\(database)\"; the check after the restore could not run: \(reason)",
                command: (error as? PGKeepError)?.command, stderrTail: (error as? PGKeepError)?.stderrTail,
                hint: "the restored data stays; count the rows by hand, or restore again with --clean --verify "
                    + "once the cause is gone")
        }
    }

    /// 4. The result, after the restore committed.
    private func report(started: Date, checked: String, copied: [String: Int]?) throws -> RestoreResult {
        let mark = Date()
        // The counts psql reported for each COPY are exact and free; without them (parallel
        // restore, schema only, a script inside a container) the restored tables are counted.
        let restoredTables = written(try TargetCatalog.userTables(query))
        let counts: [String: Int]
        if let copied, !copied.isEmpty {
            counts = copied
        } else {
            counts = try TargetCatalog.rowCounts(query, tables: restoredTables)
        }
        Trace.phase("row counts", since: mark)
        var mismatches: [(String, Int, Int?)] = []
        if options.verify, let expected = input.manifest?.rowCounts {
            let scope = options.isPartial ? expected.filter { restoredTables.contains($0.key) } : expected
            // Counted now, in the target: what is there, not what was sent.
            let exact = try TargetCatalog.rowCounts(query, tables: Array(scope.keys))
            for (table, n) in scope.sorted(by: { $0.key < $1.key }) where exact[table] != (options.schemaOnly ? 0 : n) {
                mismatches.append((table, options.schemaOnly ? 0 : n, exact[table]))
            }
        }
        var differences: [String] = []
        if options.verify, !options.schemaOnly, let fingerprint = input.manifest?.fingerprint {
            // Row for row: the restored contents against the backup's snapshot.
            let scope = options.isPartial ? Set(restoredTables) : nil
            let actual = try Fingerprints.take(query, only: scope)
            differences = Fingerprints.differences(expected: fingerprint, actual: actual, scope: scope)
            Trace.phase("fingerprint", since: mark)
        }
        return RestoreResult(
            target: database, input: input, checked: checked, rowCounts: counts,
            mismatches: mismatches, differences: differences, duration: Date().timeIntervalSince(started),
            phases: timeline.phases(started: started, end: Date()))
    }

    /// Runs a script through `ScriptPipeline` into psql as one transaction.
    private func runScript(
        from source: ScriptPipeline.Source, tolerantDrops: Bool
    ) throws -> (ProcessResult, [String: Int]?) {
        let psql = try endpoint.tool(
            "psql", database: database,
            arguments: ["--no-psqlrc", "--set=ON_ERROR_STOP=1", "--file=-"])
        let result = try ScriptPipeline(psql: psql, input: restoreRead, tolerantDrops: tolerantDrops).run(source)
        timeline.marks = result.marks
        return (result.process, result.copied)
    }

    /// The archive's table of contents (`pg_restore --list`), read once for the conflict check
    /// and the `--table` selection.
    var toc: [TOCEntry]?

    /// Runs `command`, streaming the decompressed input into its stdin with `feedInput`.
    private func runFeeding(_ command: Command, feedInput: Bool) throws -> ProcessResult {
        let child = ChildProcess(command, stdin: feedInput ? .pipe : .null, stdout: .null)
        try child.start()
        if feedInput { try RestoreFeed.feed(input, to: child) }
        return child.wait()
    }

    func capture(_ command: Command, feedInput: Bool) throws -> (Data, ProcessResult) {
        let child = ChildProcess(command, stdin: feedInput ? .pipe : .null, stdout: .collect)
        try child.start()
        if feedInput { try RestoreFeed.feed(input, to: child) }
        let result = child.wait()
        return (result.stdout, result)
    }
}
