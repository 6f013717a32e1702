import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep config check`.
    struct Config: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Work with the config file.",
            subcommands: [Check.self])

        /// Validates a config file and prints the effective settings, secrets masked.
        struct Check: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Validate a config file and print the effective settings (secrets masked).",
                discussion: "An unknown key or a bad value is an error naming the key and its line (exit 64).")

            @Argument(help: ArgumentHelp("The config file (default: --config, then PGKEEP_CONFIG).", valueName: "file"))
            var file: String?
            @OptionGroup var config: ConfigOptions

            func run() throws {
                try reportingErrors {
                    let env = ProcessInfo.processInfo.environment
                    guard let c = try ConfigOptions.load(path: file ?? config.path, environment: env) else {
                        throw PGKeepError(.usage, "name the config file: pgkeep config check FILE (or --config, or PGKEEP_CONFIG)")
                    }
                    for line in effectiveSettings(c, environment: env) { Console.out(line + "\n") }
                    for warning in c.warnings(environment: env) { printStderr("pgkeep: warning: " + warning) }
                }
            }

            /// What a run with this file would use, after the environment (flags aside).
            func effectiveSettings(_ c: PGKeepConfig, environment env: [String: String]) -> [String] {
                var lines = ["config: \(c.path) (valid)"]
                func add(_ key: String, _ value: String?, _ origin: String = "file") {
                    guard let value else { return }
                    lines.append("\(key.padding(toLength: 16, withPad: " ", startingAt: 0)) \(value)  [\(origin)]")
                }
                if let spec = try? ConnectionSpec.resolve(dbname: nil, host: nil, port: nil, username: nil, environment: env,
                                                          configured: try? c.connectionSpec(environment: env, readPassword: false)) {
                    add("connection", Redaction.shared.apply(spec.displayURI()), c.namesConnection ? "file, then PG* variables" : "environment")
                }
                if let file = c.passwordFile { add("password", "from password_file \(file)") }
                else if let name = c.passwordEnv { add("password", "from the environment variable \(name)") }
                else if c.hasInlinePassword { add("password", "inline in connection.uri (****)") }
                else { add("password", "libpq's own: PGPASSWORD, ~/.pgpass", "default") }
                if let bin = env["PGKEEP_PG_BIN"] { add("pg_bin", bin, "PGKEEP_PG_BIN") } else { add("pg_bin", c.pgBin ?? "PATH", c.pgBin == nil ? "default" : "file") }
                if let dir = env["PGKEEP_DIR"] { add("dir", dir, "PGKEEP_DIR") } else { add("dir", c.directory ?? "(none: give --dir)", c.directory == nil ? "default" : "file") }
                add("format", (c.format ?? .custom).rawValue, c.format == nil ? "default" : "file")
                add("compress_level", String(c.compressLevel ?? 6), c.compressLevel == nil ? "default" : "file")
                switch c.databases {
                case .all?: add("databases", "all (and the globals)")
                case .list(let names)?: add("databases", names.joined(separator: ", "))
                case nil: add("databases", "the connection's database", "default")
                }
                add("retention", (c.retention ?? RetentionPolicy()).description, c.retention == nil ? "default" : "file")
                if let d = c.dockerCompose {
                    add("docker_compose", "service \(d.service) via \(d.composeCommand)" + (d.composeFiles.isEmpty ? "" : ", files \(d.composeFiles.joined(separator: ", "))"))
                }
                add("on_success", c.onSuccess.map { $0.map(PGKeepCommand.Config.Check.quote).joined(separator: " ") })
                add("on_failure", c.onFailure.map { $0.map(PGKeepCommand.Config.Check.quote).joined(separator: " ") })
                add("log_file", c.logFile)
                if c.quiet == true { add("quiet", "true") }
                add("max_age", c.maxAge.map(DurationText.format))
                return lines
            }

            static func quote(_ s: String) -> String {
                s.contains(" ") || s.isEmpty ? "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" : s
            }
        }
    }

    /// `pgkeep schedule`: a crontab line or a systemd service and timer for `pgkeep run`.
    struct Schedule: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a crontab line (or a systemd service and timer) that runs `pgkeep run --quiet`.",
            discussion: "Nothing is installed: paste the line into `crontab -e`, or the units into /etc/systemd/system/.")

        @Option(help: ArgumentHelp("When to run, in cron syntax, e.g. \"0 2 * * *\" (02:00 daily).", valueName: "expression"))
        var cron: String = "0 2 * * *"
        @Flag(help: "Print a systemd service and timer instead of a crontab line.")
        var systemd = false
        @OptionGroup var config: ConfigOptions
        @Option(name: .customLong("log-file"), help: ArgumentHelp("Log file for the scheduled run (default: the config's [log] file).", valueName: "file"))
        var logFile: String?

        func run() throws {
            try reportingErrors {
                let env = ProcessInfo.processInfo.environment
                let c = try config.load(environment: env)
                let cwd = FileManager.default.currentDirectoryPath
                func absolute(_ p: String?) -> String? {
                    p.map { $0.hasPrefix("/") ? $0 : ((cwd as NSString).appendingPathComponent($0) as NSString).standardizingPath }
                }
                if c == nil {
                    printStderr("pgkeep: note: no --config: the scheduled run will need its settings in the crontab's environment")
                }
                let schedule = try PGKeep.Schedule(cron: cron, binary: PGKeep.Schedule.currentBinary(environment: env),
                                                   config: c?.path, logFile: absolute(logFile) ?? c?.logFile)
                if systemd {
                    let units = try schedule.systemdUnits()
                    Console.out("# /etc/systemd/system/pgkeep.service\n" + units.service + "\n# /etc/systemd/system/pgkeep.timer\n" + units.timer
                                + "\n# then: systemctl daemon-reload && systemctl enable --now pgkeep.timer\n")
                } else {
                    Console.out(schedule.crontabLine + "\n")
                }
            }
        }
    }
}
