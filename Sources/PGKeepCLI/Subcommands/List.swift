import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep list`: the backups in a directory, newest first, and what keeps each one.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List backups, newest first, with the retention rule that keeps each one.")

        @Option(help: ArgumentHelp("Only this database.", valueName: "name"))
        var database: String?
        @OptionGroup var policy: PolicyOptions
        @Flag(help: "Print JSON on stdout.")
        var json = false
        @OptionGroup var location: DirectoryOptions
        @OptionGroup var remoteOptions: RemoteOptions

        func run() throws {
            try reportingErrors("a list") {
                let settings = try location.settings()
                let policy = settings.policy(self.policy.flags)
                var mark = Date()
                let remote = try settings.explicitRemote(flag: remoteOptions.remote)
                let dir = try remote?.target ?? settings.directory(flag: location.directory)
                let scan = try remote?.scan(database: database) ?? CatalogScan.scan(dir, database: database)
                mark = Trace.phase("scan", since: mark)
                let items = PruneJob(directory: dir, database: database, policy: policy).plan(scan)
                mark = Trace.phase("plan", since: mark)
                defer { Trace.phase("print", since: mark) }
                ListReport(json: json, policy: policy).show(items, scan: scan)
            }
        }
    }
}
