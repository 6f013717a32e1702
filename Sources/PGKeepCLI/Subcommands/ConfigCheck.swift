import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep config`: work with the config file.
    struct Config: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Work with the config file.",
            subcommands: [ConfigCheck.self])
    }

    /// `pgkeep config check`: validates a config file and prints the effective settings.
    struct ConfigCheck: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Validate a config file and print the effective settings (secrets masked).",
            discussion: "An unknown key or a bad value is an error naming the key and its line (exit 64).")

        @Argument(help: ArgumentHelp("The config file (default: --config, then PGKEEP_CONFIG).", valueName: "file"))
        var file: String?
        @OptionGroup var config: ConfigOptions

        func run() throws {
            try reportingErrors("config check") {
                let settings = try Settings.load(
                    configFlag: file ?? config.path, environment: ProcessInfo.processInfo.environment)
                guard let c = settings.config else {
                    throw PGKeepError(
                        .usage, "name the config file: pgkeep config check FILE (or --config, or PGKEEP_CONFIG)")
                }
                for line in settings.effectiveLines() { Console.out(line + "\n") }
                for warning in c.warnings(environment: settings.environment) {
                    printStderr("pgkeep: warning: " + warning)
                }
            }
        }
    }
}
