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
        @OptionGroup var bounds: BoundsOptions
        @OptionGroup var hookOptions: HookOptions
        @OptionGroup var upload: UploadOptions
        @OptionGroup var policy: PolicyOptions
        @OptionGroup var monitoring: MonitorOptions
        @OptionGroup var parallel: ParallelOptions
        @OptionGroup var shard: ShardOptions

        @Option(
            name: .customLong("database"), help: ArgumentHelp("A database to back up (repeatable).", valueName: "name"))
        var databases: [String] = []
        @Flag(help: "Every database that accepts connections, and the globals.")
        var all = false

        func run() throws {
            try reportingErrors("the cron job") {
                let settings = try location.settings()
                try settings.applyBounds(bounds.flags)
                try output.apply(settings)
                let hooks = try hookOptions.hooks(settings)
                let started = Date()
                let fleet = try fleetRun(settings)
                var monitor = try Monitoring(
                    monitoring, settings: settings, command: "run", database: nil,
                    directory: fleet == nil
                        ? try settings.directory(flag: location.directory) : settings.config?.directory,
                    remotes: try settings.destinations(flags: upload.remote.remotes, configured: true).map(\.store))
                if let fleet { monitor.scopes = try fleet.metricsScopes() }
                let parallel = parallel.parallel ?? settings.config?.parallel ?? 1
                let summary = try monitor.around {
                    try hooks.firing {
                        guard let fleet else { return try runBackups(settings) }
                        return try fleet.run(parallel: parallel, record: { [monitor] in monitor.record($0, in: $1) }) {
                            [self] narrowed, slots in try runBackups(narrowed, slots: slots)
                        }
                    }
                }
                RunReport.show(summary, started: started)
                hooks.fire(for: summary)
                monitor.backups(summary, started: started)
                try exitIfFailed(!summary.failures.isEmpty)
            }
        }

        /// The config's `[[server]]` tables, unless `--server` picked one.
        func fleetRun(_ settings: Settings) throws -> FleetRun? {
            guard let servers = settings.config?.servers, !servers.isEmpty, location.directory == nil else {
                return nil
            }
            let flags = connection.flags
            if flags.dbname != nil || flags.host != nil || flags.port != nil || flags.username != nil || all
                || !databases.isEmpty
            {
                throw PGKeepError(
                    .usage,
                    "the config file has [[server]] tables: connection flags, --database and --all would apply to "
                        + "every server",
                    hint: "set them per server in the file, or pick one with --server NAME")
            }
            return FleetRun(settings: settings, servers: servers)
        }

        func runBackups(_ settings: Settings, slots: DumpSlots? = nil) throws -> BackupJob.Summary {
            var flags = BackupFlags()
            upload.apply(to: &flags)
            flags.prune = settings.policy(policy.flags)
            flags.retention = policy.flags
            flags.parallel = parallel.parallel
            try shard.apply(to: &flags)
            var options = try settings.backupOptions(flags, directoryFlag: location.directory)
            let spec = try settings.connection(connection.flags)
            settings.selectDatabases(databases, all: all, connection: spec, into: &options)
            let source = try settings.dumpSource(
                spec: spec, pgBinFlag: connection.pgBin, docker: settings.dockerCompose(flag: docker.flag))
            defer { source.close() }
            let job = BackupJob(options: options, source: source)
            job.slots = slots
            let reporter = BackupReporter(quiet: Output.quiet, json: output.json)
            reporter.holdFailures = true
            reporter.attach(to: job, named: true)
            let summary = try job.run()
            reporter.finish(summary)
            return summary
        }
    }
}
