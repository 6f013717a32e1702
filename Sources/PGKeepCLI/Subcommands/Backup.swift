import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep backup`: one verified, timestamped backup per database.
    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Back up a database (or --all) into a verified, timestamped file with a manifest.",
            discussion:
                "Files: DIR/<db>/<db>_<YYYY-MM-DD>T<HHMMSS>Z<ext> (UTC) with <file>.manifest.json beside it.")

        @OptionGroup var location: DirectoryOptions
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var docker: DockerComposeFlags
        @OptionGroup var output: OutputOptions
        @OptionGroup var bounds: BoundsOptions
        @OptionGroup var hookOptions: HookOptions
        @OptionGroup var upload: UploadOptions
        @OptionGroup var dump: DumpOptions
        @OptionGroup var monitoring: MonitorOptions
        @OptionGroup var parallel: ParallelOptions

        /// Prune this database after a verified backup.
        @Flag(
            help:
                "After a verified backup, prune its database with the --keep-* policy (a failed backup never prunes).")
        var prune = false
        @OptionGroup var policy: PolicyOptions

        /// All databases and the globals.
        @Flag(help: "Back up every database that accepts connections, and the roles and tablespaces.")
        var all = false

        func validate() throws {
            if all, let dbname = connection.dbname, !ConnectionSpec.isConnectionString(dbname) {
                throw ValidationError(
                    "--all backs up every database; give --dbname only as a connection URI with --all")
            }
        }

        func run() throws {
            try reportingErrors("a backup") {
                let settings = try location.settings()
                try settings.applyBounds(bounds.flags)
                try output.apply(settings)
                let hooks = try hookOptions.hooks(settings)
                var flags = dump.flags
                upload.apply(to: &flags)
                flags.all = all
                flags.prune = prune ? settings.policy(policy.flags) : nil
                flags.retention = policy.flags
                flags.parallel = parallel.parallel
                let options = try settings.backupOptions(flags, directoryFlag: location.directory)
                let spec = try settings.connection(connection.flags)
                let source = try settings.dumpSource(
                    spec: spec, pgBinFlag: connection.pgBin, docker: settings.dockerCompose(flag: docker.flag))
                defer { source.close() }
                let job = BackupJob(options: options, source: source)
                let reporter = BackupReporter(quiet: Output.quiet, json: output.json)
                reporter.attach(to: job)
                let database = options.database ?? spec.database
                let monitor = try Monitoring(
                    monitoring, settings: settings, command: "backup", database: all ? nil : database,
                    directory: options.directory, remotes: options.destinations.map(\.store))
                let started = Date()
                let summary = try monitor.around { try hooks.firing(database: database ?? "") { try job.run() } }
                reporter.finish(summary)
                hooks.fire(for: summary)
                monitor.backups(summary, started: started)
                try exitIfFailed(!summary.failures.isEmpty)
            }
        }
    }
}
