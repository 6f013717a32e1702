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

        @OptionGroup var config: ConfigOptions
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var docker: DockerComposeFlags
        @OptionGroup var output: OutputOptions
        @OptionGroup var hookOptions: HookOptions
        @OptionGroup var policy: PolicyOptions

        @Option(name: .customLong("dir"), help: ArgumentHelp("Backup directory (default: PGKEEP_DIR, then the config).", valueName: "dir"))
        var directory: String?
        @Option(name: .customLong("database"), help: ArgumentHelp("A database to back up (repeatable).", valueName: "name"))
        var databases: [String] = []
        @Flag(help: "Every database that accepts connections, and the globals.")
        var all = false

        func run() throws {
            try reportingErrors {
                let env = ProcessInfo.processInfo.environment
                let config = try config.load(environment: env)
                try Settings.output(output, config: config)
                let hooks = try hookOptions.hooks(config: config)
                let started = Date()
                do {
                    let summary = try runBackups(config: config, environment: env)
                    try finish(summary, hooks: hooks, started: started)
                } catch let error as PGKeepError where Cancellation.shared.signalReceived == nil {
                    // Nothing was backed up (no lock, no connection): the hooks hear of it too.
                    reportHookFailure(hooks.run(.init(database: "", backupPath: nil, error: error.message)))
                    throw error
                }
            }
        }

        func runBackups(config: PGKeepConfig?, environment env: [String: String]) throws -> BackupJob.Summary {
            var options = BackupOptions(directory: try Settings.requireDirectory(flag: directory, environment: env, config: config))
            options.format = config?.format ?? .custom
            options.compressLevel = config?.compressLevel ?? 6
            options.jobs = config?.jobs ?? 1
            options.workers = config?.threads ?? ProcessInfo.processInfo.activeProcessorCount
            options.rowCounts = config?.rowCounts ?? false
            options.label = config?.label
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
            } else {
                throw PGKeepError(.usage, "no databases to back up: give --database NAME or --all, or set databases in the config file's [backup]")
            }
            let source = try makeDumpSource(spec: spec, pgBin: Settings.pgBin(flag: connection.pgBin, environment: env, config: config),
                                            docker: docker.options(config: config), environment: env)
            defer { source.close() }
            let job = BackupJob(options: options, source: source)
            let reporter = BackupReporter(quiet: Output.quiet, json: output.json)
            reporter.holdFailures = true
            job.onProgress = reporter.progress
            job.onRecorded = reporter.recorded
            job.onFailure = reporter.failed
            job.onPruned = { r in printInfo("pgkeep: pruned \(r.items.first?.entry.manifest.database ?? ""): kept \(r.items.count - r.deleted), deleted \(r.deleted)") }
            let summary = try job.run()
            reporter.finish(summary)
            return summary
        }

        func finish(_ summary: BackupJob.Summary, hooks: Hooks, started: Date) throws {
            let failed = Dictionary(summary.failures.map { ($0.database, $0.error) }, uniquingKeysWith: { a, _ in a })
            var hookErrors: [PGKeepError] = []
            for record in summary.records where failed[record.manifest.database] == nil {
                if let e = hooks.run(.init(database: record.manifest.database, backupPath: record.path, error: nil)) { hookErrors.append(e) }
            }
            for (database, error) in summary.failures {
                if let e = hooks.run(.init(database: database, backupPath: nil, error: error.message)) { hookErrors.append(e) }
            }
            let seconds = String(format: "%.1f s", Date().timeIntervalSince(started))
            let ok = summary.records.filter { failed[$0.manifest.database] == nil }.count
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
            hookErrors.forEach(reportHookFailure)
            if !summary.failures.isEmpty { throw ExitCode(ExitCodes.failure) }
        }

        func reportHookFailure(_ error: PGKeepError?) {
            guard let error else { return }
            printStderr("pgkeep: warning: " + error.description)
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
