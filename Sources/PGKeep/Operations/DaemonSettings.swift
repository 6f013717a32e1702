import Foundation

extension Settings {
    /// The daemon this config describes: `--cron` over `[schedule] cron`, `[schedule] timezone`
    /// (UTC by default), a `pgkeep run --quiet` child with the same config and directory, and the
    /// status check that decides whether a start catches up.
    public func daemon(cronFlag: String?, directoryFlag: String?, configFlag: String?, binary: String) throws -> Daemon
    {
        guard let cron = try cronFlag.map({ try CronExpression($0) }) ?? config?.scheduleCron else {
            throw PGKeepError(
                .usage, "pgkeep daemon needs a schedule: [schedule] cron (or PGKEEP_SCHEDULE_CRON, or --cron)",
                hint: "e.g. cron = \"0 3 * * *\" for 03:00 every day (UTC unless [schedule] timezone)")
        }
        let zoneName = config?.scheduleTimeZone ?? "UTC"
        guard let zone = TimeZone(identifier: zoneName) else {
            throw PGKeepError(.usage, "[schedule] timezone: \"\(zoneName)\" is not a time zone")
        }
        var arguments = ["run", "--quiet"]
        if let configFlag { arguments += ["--config", configFlag] }
        if let directoryFlag { arguments += ["--dir", directoryFlag] }
        if let server = config?.serverName { arguments += ["--server", server] }
        let run = Command(executable: binary, arguments: arguments, environment: environment)
        // A fleet's daemon runs every server; it catches up when any server's database is stale.
        if directoryFlag == nil, let servers = config?.servers, !servers.isEmpty {
            let fleet = FleetRun(settings: self, servers: servers)
            return Daemon(cron: cron, zone: zone, run: run) { maxAge in (try? fleet.status(maxAge: maxAge))?.ok ?? false
            }
        }
        let directory = try self.directory(flag: directoryFlag)
        let databases = statusDatabases(flags: [])
        return Daemon(cron: cron, zone: zone, run: run) { maxAge in
            let check = StatusCheck(directory: directory, databases: databases, maxAge: maxAge)
            return (try? check.run())?.ok ?? false
        }
    }
}
