import Foundation

/// What `pgkeep schedule` prints: a crontab line, or a systemd service and timer, that run
/// `pgkeep run` with the absolute path of the binary, the config file, --quiet and the log file.
public struct Schedule: Sendable {
    /// A cron expression (five fields, or @daily and the like).
    public var cron: String
    /// Absolute path of the pgkeep binary.
    public var binary: String
    /// Absolute path of the config file, if any.
    public var config: String?
    /// Absolute path of the log file, if any.
    public var logFile: String?

    public init(cron: String, binary: String, config: String?, logFile: String?) throws {
        self.cron = cron.trimmingCharacters(in: .whitespaces)
        self.binary = binary
        self.config = config
        self.logFile = logFile
        _ = try fields()
    }

    /// The command both forms run.
    public var arguments: [String] {
        [binary, "run"] + (config.map { ["--config", $0] } ?? []) + ["--quiet"]
            + (logFile.map { ["--log-file", $0] } ?? [])
    }

    /// A crontab line. `%` is special to cron (it ends the command), so it is escaped.
    public var crontabLine: String {
        let command = arguments.map(Command.shellQuote).joined(separator: " ").replacingOccurrences(
            of: "%", with: "\\%")
        return "\(cron) \(command)"
    }

    /// The five fields, checked by `CronExpression` (numbers in range, lists, ranges, steps).
    func fields() throws -> [String] {
        _ = try CronExpression(cron)
        let expanded = CronExpression.nicknames[cron] ?? cron
        return expanded.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    }

    /// The cron expression as a systemd OnCalendar value.
    public func onCalendar() throws -> String {
        let f = try fields()
        if f[2] != "*" && f[4] != "*" {
            throw PGKeepError(
                .usage,
                "--cron restricts both day of month and day of week, which cron ORs and systemd ANDs; there is no "
                    + "single OnCalendar for it",
                hint: "use --cron with only one of the two, or write two timers")
        }
        func convert(_ field: String, pad: Bool) -> String {
            field.split(separator: ",").map { part -> String in
                let pieces = part.split(separator: "/")
                var base = String(pieces[0])
                if base == "*" && pieces.count == 2 { base = "0" }
                base = base.replacingOccurrences(of: "-", with: "..")
                if pad, let n = Int(base) { base = String(format: "%02d", n) }
                return pieces.count == 2 ? "\(base)/\(pieces[1])" : base
            }.joined(separator: ",")
        }
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        var weekday = ""
        if f[4] != "*" {
            weekday =
                f[4].split(separator: ",").map { part -> String in
                    let bounds = part.split(separator: "-").compactMap { Int($0) }
                    return bounds.map { days[$0] }.joined(separator: "..")
                }.joined(separator: ",") + " "
        }
        return
            "\(weekday)*-\(convert(f[3], pad: false))-\(convert(f[2], pad: false)) "
            + "\(convert(f[1], pad: true)):\(convert(f[0], pad: true)):00"
    }

    /// Both units as `pgkeep schedule --systemd` prints them, with where each goes.
    public func systemdText() throws -> String {
        let units = try systemdUnits()
        return "# /etc/systemd/system/pgkeep.service\n" + units.service + "\n# /etc/systemd/system/pgkeep.timer\n"
            + units.timer + "\n# then: systemctl daemon-reload && systemctl enable --now pgkeep.timer\n"
    }

    /// A oneshot service and its timer. `%` is special in unit files and is doubled.
    public func systemdUnits() throws -> (service: String, timer: String) {
        let exec = arguments.map {
            $0.contains(" ") || $0.contains("\"") ? "\"" + $0.replacingOccurrences(of: "\"", with: "\\\"") + "\"" : $0
        }
        .joined(separator: " ").replacingOccurrences(of: "%", with: "%%")
        let service = """
            [Unit]
            Description=pgkeep: verified PostgreSQL backups
            Wants=network-online.target
            After=network-online.target postgresql.service

            [Service]
            Type=oneshot
            ExecStart=\(exec)
            # pgkeep stops its children and removes temporary files on SIGTERM.
            KillMode=mixed
            TimeoutStopSec=30
            Nice=10
            IOSchedulingClass=best-effort
            IOSchedulingPriority=7

            """
        let timer = """
            [Unit]
            Description=Run pgkeep (\(cron))

            [Timer]
            OnCalendar=\(try onCalendar())
            Persistent=true

            [Install]
            WantedBy=timers.target

            """
        return (service, timer)
    }

    /// This binary's absolute path: argv[0] made absolute, or found on PATH, or /proc/self/exe.
    public static func currentBinary(environment: [String: String]) -> String {
        let arg0 = CommandLine.arguments.first ?? "pgkeep"
        if arg0.hasPrefix("/") { return arg0 }
        if arg0.contains("/") {
            return ((FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(arg0) as NSString)
                .standardizingPath
        }
        if let found = Command.find(arg0, environment: environment), found.hasPrefix("/") { return found }
        return (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arg0
    }
}
