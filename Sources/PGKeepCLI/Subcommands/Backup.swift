import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep backup`: one verified, timestamped backup per database.
    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Back up a database (or --all) into a verified, timestamped file with a manifest.",
            discussion: "Files: DIR/<db>/<db>_<YYYY-MM-DD>T<HHMMSS>Z<ext> (UTC) with <file>.manifest.json beside it.")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var docker: DockerComposeFlags
        @OptionGroup var output: OutputOptions

        /// The backup directory (default: PGKEEP_DIR).
        @Option(name: .customLong("dir"), help: ArgumentHelp("Backup directory (default: PGKEEP_DIR).", valueName: "dir"))
        var directory: String?

        /// custom (default), plain or directory.
        @Option(name: [.customShort("F"), .long], help: "custom (.dump.gz, selectively restorable), plain (.sql.gz) or directory (.dir, with --jobs).")
        var format: BackupFormatArgument = .custom

        /// gzip level.
        @Option(name: [.customShort("Z"), .customLong("compress-level")], help: "gzip level 0-9 (0 = none).")
        var compressLevel: Int = 6

        /// No compression at all.
        @Flag(name: .customLong("no-compress"), help: "Write the dump uncompressed.")
        var noCompress = false

        /// Parallel pg_dump jobs (directory format).
        @Option(name: [.customShort("j"), .long], help: "pg_dump parallel jobs (directory format only).")
        var jobs: Int = 1

        /// Compression threads.
        @Option(name: .customLong("threads"), help: ArgumentHelp("Compression threads (default: the number of cores).", valueName: "n"))
        var threads: Int?

        /// Free text stored in the manifest.
        @Option(help: "A label stored in the manifest.")
        var label: String?

        /// Prune this database after a verified backup.
        @Flag(help: "After a verified backup, prune its database with the --keep-* policy (a failed backup never prunes).")
        var prune = false
        @OptionGroup var policy: PolicyOptions

        /// Exact row counts in the manifest, for restore --verify.
        @Flag(name: .customLong("row-counts"), help: "Record exact per-table row counts, taken in pg_dump's snapshot, in the manifest.")
        var rowCounts = false

        /// All databases and the globals.
        @Flag(help: "Back up every database that accepts connections, and the roles and tablespaces.")
        var all = false

        @Option(name: [.customShort("t"), .customLong("table")], help: "Dump only this table (repeatable).")
        var tables: [String] = []
        @Option(name: [.customShort("T"), .customLong("exclude-table")], help: "Leave out this table (repeatable).")
        var excludeTables: [String] = []
        @Option(name: [.customShort("n"), .customLong("schema")], help: "Dump only this schema (repeatable).")
        var schemas: [String] = []
        @Flag(name: [.customShort("s"), .customLong("schema-only")], help: "Definitions only, no data.")
        var schemaOnly = false
        @Flag(name: [.customShort("a"), .customLong("data-only")], help: "Data only, no definitions.")
        var dataOnly = false
        @Flag(name: [.customShort("O"), .customLong("no-owner")], help: "Do not record object owners.")
        var noOwner = false
        @Flag(name: [.customShort("x"), .customLong("no-privileges")], help: "Do not record privileges (GRANT/REVOKE).")
        var noPrivileges = false

        func validate() throws {
            if directory == nil && ProcessInfo.processInfo.environment["PGKEEP_DIR"] == nil {
                throw ValidationError("--dir is required (or set PGKEEP_DIR)")
            }
            guard (0...9).contains(compressLevel) else { throw ValidationError("--compress-level must be 0 to 9") }
            if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
            if all && connection.dbname != nil && !ConnectionSpec.isConnectionString(connection.dbname!) {
                throw ValidationError("--all backs up every database; give --dbname only as a connection URI with --all")
            }
        }

        func run() throws {
            try reportingErrors {
                let env = ProcessInfo.processInfo.environment
                var options = BackupOptions(directory: directory ?? env["PGKEEP_DIR"]!)
                options.format = format.value
                options.compressLevel = noCompress ? 0 : compressLevel
                options.jobs = jobs
                options.label = label
                options.all = all
                options.workers = threads ?? ProcessInfo.processInfo.activeProcessorCount
                options.rowCounts = rowCounts
                options.prune = prune ? policy.policy : nil
                options.filters.tables = tables
                options.filters.excludeTables = excludeTables
                options.filters.schemas = schemas
                options.filters.schemaOnly = schemaOnly
                options.filters.dataOnly = dataOnly
                options.filters.noOwner = noOwner
                options.filters.noPrivileges = noPrivileges

                let spec = try connection.spec(environment: env)
                let source: DumpSource
                if let compose = docker.options {
                    source = try DockerComposeDumpSource(options: compose, spec: spec, environment: env)
                } else {
                    source = try LocalDumpSource(spec: spec, tools: PostgresTools(pgBin: connection.pgBin, environment: env), environment: env)
                }
                defer { source.close() }

                let job = BackupJob(options: options, source: source)
                let reporter = BackupReporter(quiet: output.quiet, json: output.json)
                job.onProgress = reporter.progress
                job.onRecorded = reporter.recorded
                job.onFailure = reporter.failed
                job.onPruned = { r in
                    if !output.quiet && !output.json {
                        printStderr("pgkeep: pruned: kept \(r.items.count - r.deleted), deleted \(r.deleted)")
                    }
                }
                let summary = try job.run()
                reporter.finish(summary)
                if !summary.failures.isEmpty {
                    throw ExitCode(ExitCodes.failure)
                }
            }
        }
    }
}

/// `--format` values.
enum BackupFormatArgument: String, ExpressibleByArgument, CaseIterable {
    case custom, plain, directory
    var value: BackupFormat { BackupFormat(rawValue: rawValue)! }
}
