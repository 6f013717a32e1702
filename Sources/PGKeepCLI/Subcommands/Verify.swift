import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep verify`: read backups to the end again, optionally restore them in a drill.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Check backups again: sha256, the whole stream read to its end, and optionally a restore drill.",
            discussion: """
                --restore-drill restores each backup into a scratch database with a unique name (on the \
                same server, or on --drill-dbname), compares row counts with the manifest when it has them, \
                and drops the scratch database whether the drill passed or not.
                """)

        @Argument(help: ArgumentHelp("Backups (file, directory or manifest).", valueName: "backup"))
        var backups: [String] = []
        @Flag(help: "Every backup in --dir.")
        var all = false
        @Option(help: ArgumentHelp("With --all: only this database.", valueName: "name"))
        var database: String?
        @Flag(
            name: .customLong("restore-drill"),
            help: "Also restore each backup into a scratch database, compare row counts, drop it.")
        var restoreDrill = false
        @Option(
            name: .customLong("drill-dbname"),
            help: ArgumentHelp(
                "The server for drills, as a URI or conninfo (default: the connection options).", valueName: "uri"))
        var drillDbname: String?
        @OptionGroup var location: DirectoryOptions
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var bounds: BoundsOptions
        @OptionGroup var identity: IdentityOptions
        @OptionGroup var monitoring: MonitorOptions

        func validate() throws {
            if all && !backups.isEmpty { throw ValidationError("give backups or --all, not both") }
            if !all && backups.isEmpty { throw ValidationError("name the backups to verify, or use --all --dir DIR") }
        }

        func run() throws {
            try reportingErrors("a verify") {
                let settings = try location.settings()
                try settings.applyBounds(bounds.flags)
                try output.apply(settings)
                let directory = all ? try settings.directory(flag: location.directory) : nil
                let (paths, lock) = try VerifyJob.select(all: directory, database: database, paths: backups)
                defer { _ = lock }
                let drill =
                    !restoreDrill
                    ? nil
                    : try drillDbname.map { try settings.server(uri: $0, flag: "--drill-dbname") }
                        ?? settings.connection(connection.flags)
                let job = VerifyJob(
                    tools: settings.tools(pgBinFlag: connection.pgBin), environment: settings.environment, drill: drill)
                job.onStatus = { printInfo("pgkeep: " + $0) }
                try identity.apply(to: job, settings: settings)
                let report = VerifyReport(json: output.json)
                let monitor = try Monitoring(
                    monitoring, settings: settings, command: "verify", database: database, directory: directory)
                let failures = try monitor.around { try job.verifyEach(paths, report: report.add) }
                report.finish(failures: failures, of: paths.count)
                monitor.finish(error: failures > 0 ? "\(failures) of \(paths.count) backups failed verification" : nil)
                // Only drills that could not run (the server, not the backup): say so with exit 4.
                if failures > 0 && failures == job.uncheckedFailures { throw ExitCode(ExitCodes.unchecked) }
                try exitIfFailed(failures > 0)
            }
        }
    }
}
