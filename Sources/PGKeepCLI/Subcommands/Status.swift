import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep status`: fresh backups for every database, for monitoring.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Exit 0 only if every database has a verified backup newer than --max-age (for monitoring and "
                + "healthchecks).",
            discussion:
                "The databases are the config file's list, else every database found in --dir. Exit 1 names the stale "
                + "ones."
        )

        @Option(
            name: .customLong("max-age"),
            help: ArgumentHelp(
                "How old the newest backup may be, e.g. 26h, 90m, 2d (default: the config's max_age, else 26h).",
                valueName: "age"))
        var maxAge: String?
        @Option(
            name: .customLong("database"),
            help: ArgumentHelp(
                "A database that must be fresh (repeatable; default: the config's, else all found).",
                valueName: "name"))
        var databases: [String] = []
        @Flag(help: "Print JSON on stdout.")
        var json = false
        @Option(
            help: ArgumentHelp(
                "prometheus: print the metrics (as the textfile pgkeep writes) on stdout instead of the table.",
                valueName: "format"))
        var format: String?
        @OptionGroup var location: DirectoryOptions
        @OptionGroup var remoteOptions: RemoteOptions
        /// Only the remote counts.
        @Flag(
            name: .customLong("remote-only"),
            help:
                "The backups are kept on the remote only (as backup --remote-only leaves them): check the remote alone."
        )
        var remoteOnly = false

        func validate() throws {
            if let format, format != "prometheus", format != "text" {
                throw ValidationError("--format must be text or prometheus (got \(format))")
            }
            if let maxAge {
                do { _ = try DurationText.parse(maxAge) } catch let error as PGKeepError {
                    throw ValidationError("--max-age: " + error.message)
                }
            }
        }

        func run() throws {
            try reportingErrors("a status check") {
                let settings = try location.settings()
                var query = StatusQuery(directoryFlag: location.directory)
                query.maxAgeFlag = maxAge
                query.databaseFlags = databases
                query.remoteFlags = remoteOptions.remotes
                query.remoteOnlyFlag = remoteOnly
                let report = try settings.statusReport(query)
                if format == "prometheus" {
                    Console.out(try settings.statusMetrics(query, report: report))
                } else {
                    let shown = settings.fleet(directoryFlag: location.directory) == nil
                    StatusReport(json: json).show(
                        report,
                        directory: shown
                            ? try settings.directory(flag: location.directory) : settings.config?.directory ?? "")
                }
                try exitIfFailed(!report.ok)
            }
        }
    }
}
