import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep backup`: one verified, timestamped backup per database.
    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Back up a database (or --all) into a verified, timestamped file with a manifest.",
            discussion: "Files: DIR/<db>/<db>_<YYYY-MM-DD>T<HHMMSS>Z<ext> (UTC) with <file>.manifest.json beside it.")

        @OptionGroup var location: DirectoryOptions
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var docker: DockerComposeFlags
        @OptionGroup var output: OutputOptions
        @OptionGroup var hookOptions: HookOptions
        @OptionGroup var upload: UploadOptions


        /// custom (default), plain or directory.
        @Option(name: [.customShort("F"), .long], help: "custom (default; .dump.gz, selectively restorable), plain (.sql.gz) or directory (.dir, with --jobs).")
        var format: BackupFormatArgument?

        /// gzip level.
        @Option(name: [.customShort("Z"), .customLong("compress-level")], help: "gzip level 0-9 (0 = none; default 6).")
        var compressLevel: Int?

        /// No compression at all.
        @Flag(name: .customLong("no-compress"), help: "Write the dump uncompressed.")
        var noCompress = false

        /// Parallel pg_dump jobs (directory format).
        @Option(name: [.customShort("j"), .long], help: "pg_dump parallel jobs (directory format only).")
        var jobs: Int?

        /// Compression threads.
        @Option(name: .customLong("threads"), help: ArgumentHelp("Compression threads (default: the number of cores).", valueName: "n"))
        var threads: Int?

        /// age recipients.
        @Option(name: .customLong("encrypt-to"), help: ArgumentHelp("Encrypt with age to this recipient (age1... public key; repeatable), after compression.", valueName: "recipient"))
        var encryptTo: [String] = []

        /// A passphrase instead of recipients.
        @Option(name: .customLong("encrypt-passphrase-file"), help: ArgumentHelp("Encrypt with age to the passphrase in this file (one line) instead of recipients.", valueName: "file"))
        var encryptPassphraseFile: String?

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
            if let compressLevel, !(0...9).contains(compressLevel) { throw ValidationError("--compress-level must be 0 to 9") }
            if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
            if all && connection.dbname != nil && !ConnectionSpec.isConnectionString(connection.dbname!) {
                throw ValidationError("--all backs up every database; give --dbname only as a connection URI with --all")
            }
        }

        func run() throws {
            try reportingErrors {
                let env = ProcessInfo.processInfo.environment
                let config = try location.config(environment: env)
                try Settings.output(output, config: config)
                let hooks = try hookOptions.hooks(config: config)
                var options = BackupOptions(directory: try location.requireDirectory(environment: env, config: config))
                options.format = format?.value ?? config?.format ?? .custom
                options.compressLevel = noCompress ? 0 : (compressLevel ?? config?.compressLevel ?? 6)
                options.jobs = jobs ?? config?.jobs ?? 1
                options.label = label ?? config?.label
                options.all = all
                options.workers = threads ?? config?.threads ?? ProcessInfo.processInfo.activeProcessorCount
                options.rowCounts = rowCounts || (config?.rowCounts ?? false)
                options.encryptTo = encryptTo.isEmpty && encryptPassphraseFile == nil ? (config?.recipients ?? []) : encryptTo
                options.encryptPassphrase = try (encryptPassphraseFile ?? (encryptTo.isEmpty ? config?.passphraseFile : nil)).map(AgeTool.readPassphrase)
                try upload.apply(to: &options, config: config, environment: env)
                options.prune = prune ? policy.policy(config: config) : nil
                options.filters.tables = tables
                options.filters.excludeTables = excludeTables
                options.filters.schemas = schemas
                options.filters.schemaOnly = schemaOnly
                options.filters.dataOnly = dataOnly
                options.filters.noOwner = noOwner
                options.filters.noPrivileges = noPrivileges

                let spec = try connection.spec(environment: env, config: config)
                let source = try makeDumpSource(spec: spec, pgBin: Settings.pgBin(flag: connection.pgBin, environment: env, config: config),
                                                docker: docker.options(config: config), environment: env)
                defer { source.close() }

                let job = BackupJob(options: options, source: source)
                let reporter = BackupReporter(quiet: Output.quiet, json: output.json)
                job.onProgress = reporter.progress
                job.onRecorded = reporter.recorded
                job.onFailure = reporter.failed
                job.onUploaded = { _, url in printInfo("pgkeep: uploaded and checked \(url)") }
            job.onPruned = { r in
                    if !output.json { printInfo("pgkeep: pruned: kept \(r.items.count - r.deleted), deleted \(r.deleted)") }
                }
                let summary: BackupJob.Summary
                do {
                    summary = try job.run()
                } catch let error as PGKeepError {
                    hooks.fire(before: error, database: options.database ?? spec.database ?? "")
                    throw error
                }
                reporter.finish(summary)
                hooks.fire(for: summary)
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
