import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep schedule`: a crontab line or a systemd service and timer for `pgkeep run`.
    struct Schedule: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a crontab line (or a systemd service and timer) that runs `pgkeep run --quiet`.",
            discussion:
                "Nothing is installed: paste the line into `crontab -e`, or the units into /etc/systemd/system/.")

        @Option(
            help: ArgumentHelp(
                "When to run, in cron syntax, e.g. \"0 2 * * *\" (02:00 daily).", valueName: "expression"))
        var cron: String = "0 2 * * *"
        @Flag(help: "Print a systemd service and timer instead of a crontab line.")
        var systemd = false
        @OptionGroup var config: ConfigOptions
        @Option(
            name: .customLong("log-file"),
            help: ArgumentHelp("Log file for the scheduled run (default: the config's [log] file).", valueName: "file"))
        var logFile: String?

        func run() throws {
            try reportingErrors("schedule") {
                let settings = try config.settings()
                if settings.config == nil {
                    printStderr(
                        "pgkeep: note: no --config: the scheduled run will need its settings in the crontab's "
                            + "environment"
                    )
                }
                let schedule = try PGKeep.Schedule(
                    cron: cron, binary: PGKeep.Schedule.currentBinary(environment: settings.environment),
                    config: settings.config?.path,
                    logFile: logFile.map(FileSystem.absolutePath) ?? settings.config?.logFile)
                if systemd {
                    Console.out(try schedule.systemdText())
                } else {
                    Console.out(schedule.crontabLine + "\n")
                }
            }
        }
    }
}
