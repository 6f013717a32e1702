import ArgumentParser
import PGKeep

/// The retention policy flags, shared by prune, list and backup --prune.
struct PolicyOptions: ParsableArguments {
    /// Keep the N newest backups.
    @Option(name: .customLong("keep-last"), help: ArgumentHelp("Keep the N newest backups.", valueName: "n"))
    var last = 0
    /// Keep the newest backup of each of the last N hours that have one.
    @Option(name: .customLong("keep-hourly"), help: ArgumentHelp("Keep one per hour, N hours.", valueName: "n"))
    var hourly = 0
    /// Keep the newest backup of each of the last N days that have one.
    @Option(name: .customLong("keep-daily"), help: ArgumentHelp("Keep one per day, N days.", valueName: "n"))
    var daily = 7
    /// Keep the newest backup of each of the last N ISO weeks that have one.
    @Option(name: .customLong("keep-weekly"), help: ArgumentHelp("Keep one per ISO week, N weeks.", valueName: "n"))
    var weekly = 4
    /// Keep the newest backup of each of the last N months that have one.
    @Option(name: .customLong("keep-monthly"), help: ArgumentHelp("Keep one per month, N months.", valueName: "n"))
    var monthly = 6
    /// Keep the newest backup of each of the last N years that have one.
    @Option(name: .customLong("keep-yearly"), help: ArgumentHelp("Keep one per year, N years (-1: unlimited, for every rule).", valueName: "n"))
    var yearly = 0

    var policy: RetentionPolicy {
        RetentionPolicy(last: last, hourly: hourly, daily: daily, weekly: weekly, monthly: monthly, yearly: yearly)
    }
}
