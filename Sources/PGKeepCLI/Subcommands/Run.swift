import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep run`: the cron job. Backs up every configured database, verifies, prunes each one
    /// whose backup succeeded, runs the hooks, prints one summary.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The cron job: back up every configured database, verify, prune, report once.",
            discussion: """
            Databases come from --database (repeatable), --all, or the config file's [backup] databases. \
            A failed database does not stop the others; the exit code is non-zero if any failed. \
            With --quiet nothing is printed when everything succeeded.
            """)

        @OptionGroup var location: DirectoryOptions
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var docker: DockerComposeFlags
        @OptionGroup var output: OutputOptions
        @OptionGroup var hookOptions: HookOptions
        @OptionGroup var upload: UploadOptions
        @OptionGroup var policy: PolicyOptions

        @Option(name: .customLong("database"), help: ArgumentHelp("A database to back up (repeatable).", valueName: "name"))
        var databases: [String] = []
        @Flag(help: "Every database that accepts connections, and the globals.")
        var all = false

        func run() throws {
            try reportingErrors {
                let env = ProcessInfo.processInfo.environment
                let config = try location.config(environment: env)
                try Settings.output(output, config: config)
                let hooks = try hookOptions.hooks(config: config)
                let started = Date()
                let summary: BackupJob.Summary
                do {
                    summary = try runBackups(config: config, environment: env)
                } catch let error as PGKeepError {
                    // Nothing was backed up (no lock, no connection): the hooks hear of it too.
                    hooks.fire(before: error)
                    throw error
                }
                report(summary, started: started)
                hooks.fire(for: summary)
                if !summary.failures.isEmpty { throw ExitCode(ExitCodes.failure) }
            }
        }

        func runBackups(config: PGKeepConfig?, environment env: [String: String]) throws -> BackupJob.Summary {
            var options = BackupOptions(directory: try location.requireDirectory(environment: env, config: config))
            options.format = config?.format ?? .custom
            options.compressLevel = config?.compressLevel ?? 6
            options.jobs = config?.jobs ?? 1
            options.workers = config?.threads ?? ProcessInfo.processInfo.activeProcessorCount
            options.rowCounts = config?.rowCounts ?? false
            options.label = config?.label
            options.encryptTo = config?.recipients ?? []
            options.encryptPassphrase = try config?.passphraseFile.map(AgeTool.readPassphrase)
            try upload.apply(to: &options, config: config, environment: env)
            options.prune = policy.policy(config: config)
            let spec = try connection.spec(environment: env, config: config)
            if all || (databases.isEmpty && config?.databases == .all) {
                options.all = true
            } else if !databases.isEmpty {
                options.databases = databases
            } else if case .list(let names)? = config?.databases {
                options.databases = names
            } else if let db = spec.database {
                options.databases = [db]
            }
            // Otherwise the connection's default database, as with backup (a compose service's POSTGRES_DB).
            let source = try makeDumpSource(spec: spec, pgBin: Settings.pgBin(flag: connection.pgBin, environment: env, config: config),
                                            docker: docker.options(config: config), environment: env)
            defer { source.close() }
            let job = BackupJob(options: options, source: source)
            let reporter = BackupReporter(quiet: Output.quiet, json: output.json)
            reporter.holdFailures = true
            job.onProgress = reporter.progress
            job.onRecorded = reporter.recorded
            job.onFailure = reporter.failed
            job.onUploaded = { _, url in printInfo("pgkeep: uploaded and checked \(url)") }
            job.onPruned = { r in printInfo("pgkeep: pruned \(r.items.first?.entry.manifest.database ?? ""): kept \(r.items.count - r.deleted), deleted \(r.deleted)") }
            let summary = try job.run()
            reporter.finish(summary)
            return summary
        }

        /// The one summary: a line on success (kept off the terminal by --quiet), one block on failure.
        func report(_ summary: BackupJob.Summary, started: Date) {
            let failed = Set(summary.failures.map(\.database))
            let seconds = String(format: "%.1f s", Date().timeIntervalSince(started))
            let ok = summary.records.filter { !failed.contains($0.manifest.database) }.count
            if summary.failures.isEmpty {
                printInfo("pgkeep: run finished: \(ok) backed up and verified, 0 failed (\(seconds))")
            } else {
                var block = ["pgkeep: run FAILED: \(summary.failures.count) of \(ok + summary.failures.count) failed, \(ok) backed up and verified (\(seconds))"]
                for (database, error) in summary.failures {
                    block.append("  \(database): " + error.description.replacingOccurrences(of: "\n", with: "\n  "))
                }
                block.append("  what to do: fix the cause above and run again; the backups that succeeded are complete and verified.")
                printStderr(block.joined(separator: "\n"))
            }
        }
    }
}

/// pg_dump on this machine, or inside a docker compose service.
func makeDumpSource(spec: ConnectionSpec, pgBin: String?, docker: DockerComposeOptions?, environment env: [String: String]) throws -> DumpSource {
    if let docker {
        return try DockerComposeDumpSource(options: docker, spec: spec, environment: env)
    }
    return try LocalDumpSource(spec: spec, tools: PostgresTools(pgBin: pgBin, environment: env), environment: env)
}
