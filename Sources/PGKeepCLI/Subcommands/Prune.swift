import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep prune`: delete the backups the retention policy does not keep.
    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete backups the retention policy does not keep (default: 7 daily, 4 weekly, 6 monthly).",
            discussion:
                "Only backups with a manifest count; files pgkeep did not make are never touched. Each database is "
                + "pruned on its own; pinned backups are kept."
        )

        @Option(help: ArgumentHelp("Prune only this database.", valueName: "name"))
        var database: String?
        @OptionGroup var policy: PolicyOptions
        @Flag(name: .customLong("dry-run"), help: "Show what would be deleted; delete nothing.")
        var dryRun = false
        @OptionGroup var output: OutputOptions
        @OptionGroup var location: DirectoryOptions
        @OptionGroup var remoteOptions: RemoteOptions
        @OptionGroup var monitoring: MonitorOptions

        func run() throws {
            try reportingErrors("a prune") {
                let settings = try location.settings()
                try output.apply(settings)
                let policy = settings.policy(self.policy.flags)
                let report = PruneReport(json: output.json, policy: policy)
                // A remote prune is monitored and counted like a local one (its metrics need the
                // local directory, when there is one, for the local half).
                let remotes = try settings.destinations(
                    flags: remoteOptions.remotes, configured: false, retention: self.policy.flags)
                let directory =
                    remotes.isEmpty
                    ? try settings.directory(flag: location.directory)
                    : try? settings.directory(flag: location.directory)
                let monitor = try Monitoring(
                    monitoring, settings: settings, command: "prune", database: database, directory: directory,
                    remotes: remotes.map(\.store))
                if remotes.isEmpty, let directory {
                    var job = PruneJob(directory: directory, database: database, policy: policy)
                    job.dryRun = dryRun
                    if dryRun && output.json {
                        // A database at a time: 100,000 backups never sit in memory at once.
                        _ = try monitor.around { try report.printStreamedDryRun(job) }
                    } else {
                        let result = try monitor.around { try job.run() }
                        report.show(result)
                        KeptUntilExit.keep(result)
                    }
                }
                // Each destination --remote names, with its policy (flags > its own > the file's).
                for destination in remotes {
                    report.show(
                        try monitor.around {
                            try destination.store.prune(
                                database: database, policy: destination.policy, dryRun: dryRun)
                        })
                }
                monitor.finish(error: nil)
            }
        }
    }
}
