import ArgumentParser
import PGKeep

/// The retention policy flags, shared by prune, list, run and backup --prune. A flag overrides the
/// config file's [retention], which overrides the defaults (7 daily, 4 weekly, 6 monthly).
struct PolicyOptions: ParsableArguments {
    /// Keep the N newest backups.
    @Option(name: .customLong("keep-last"), help: ArgumentHelp("Keep the N newest backups (default 0).", valueName: "n"))
    var last: Int?
    /// Keep the newest backup of each of the last N hours that have one.
    @Option(name: .customLong("keep-hourly"), help: ArgumentHelp("Keep one per hour, N hours (default 0).", valueName: "n"))
    var hourly: Int?
    /// Keep the newest backup of each of the last N days that have one.
    @Option(name: .customLong("keep-daily"), help: ArgumentHelp("Keep one per day, N days (default 7).", valueName: "n"))
    var daily: Int?
    /// Keep the newest backup of each of the last N ISO weeks that have one.
    @Option(name: .customLong("keep-weekly"), help: ArgumentHelp("Keep one per ISO week, N weeks (default 4).", valueName: "n"))
    var weekly: Int?
    /// Keep the newest backup of each of the last N months that have one.
    @Option(name: .customLong("keep-monthly"), help: ArgumentHelp("Keep one per month, N months (default 6).", valueName: "n"))
    var monthly: Int?
    /// Keep the newest backup of each of the last N years that have one.
    @Option(name: .customLong("keep-yearly"), help: ArgumentHelp("Keep one per year, N years (default 0; -1: unlimited, for every rule).", valueName: "n"))
    var yearly: Int?

    func policy(config: PGKeepConfig?) -> RetentionPolicy {
        var p = config?.retention ?? RetentionPolicy()
        p.last = last ?? p.last
        p.hourly = hourly ?? p.hourly
        p.daily = daily ?? p.daily
        p.weekly = weekly ?? p.weekly
        p.monthly = monthly ?? p.monthly
        p.yearly = yearly ?? p.yearly
        return p
    }
}
