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
                // The local directory, or each destination --remote names, one listing after another.
                let remotes = try settings.destinations(
                    flags: remoteOptions.remotes, configured: false, retention: self.policy.flags)
                if json && remotes.isEmpty {
                    // A database at a time: 100,000 backups never sit in memory at once.
                    let directory = try settings.directory(flag: location.directory)
                    try ListReport(json: true, policy: policy).printStreamed(directory: directory, database: database)
                    Trace.phase("scan, plan, print", since: mark)
                    return
                }
                let places: [(String, () throws -> CatalogScan)] =
                    remotes.isEmpty
                    ? [
                        (
                            try settings.directory(flag: location.directory),
                            { [database] in
                                try CatalogScan.scan(
                                    try settings.directory(flag: location.directory), database: database, cached: true)
                            }
                        )
                    ]
                    : remotes.map { d in (d.store.target, { [database] in try d.store.scan(database: database) }) }
                for (index, (place, scanIt)) in places.enumerated() {
                    if places.count > 1 { Console.out((index > 0 ? "\n" : "") + "== \(place)\n") }
                    let scan = try scanIt()
                    mark = Trace.phase("scan", since: mark)
                    let items = PruneJob(directory: place, database: database, policy: policy).plan(scan)
                    mark = Trace.phase("plan", since: mark)
                    ListReport(json: json, policy: policy).show(items, scan: scan)
                    KeptUntilExit.keep((scan, items))
                }
                Trace.phase("print", since: mark)
            }
        }
    }
}
