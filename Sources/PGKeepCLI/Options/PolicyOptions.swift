import ArgumentParser
import PGKeep

/// A `--keep-*` count: a whole number, -1 or `unlimited` (each also after a space:
/// `--keep-daily -1`).
struct KeepCount: ExpressibleByArgument {
    let value: Int

    init?(argument: String) {
        guard let n = RetentionPolicy.count(argument) else { return nil }
        value = n
    }

    static var defaultCompletionKind: CompletionKind { .list(["unlimited"]) }
}

/// The retention policy flags, shared by prune, list, run and backup --prune. A flag overrides the
/// config file's [retention], which overrides the defaults (7 daily, 4 weekly, 6 monthly).
/// The values are parsed unconditionally, so that `--keep-daily -1` reads -1 and not a flag.
struct PolicyOptions: ParsableArguments {
    /// Keep the N newest backups.
    @Option(
        name: .customLong("keep-last"), parsing: .unconditional,
        help: ArgumentHelp("Keep the N newest backups (default 0).", valueName: "n"))
    var last: KeepCount?
    /// Keep the newest backup of each of the last N hours that have one.
    @Option(
        name: .customLong("keep-hourly"), parsing: .unconditional,
        help: ArgumentHelp("Keep one per hour, N hours (default 0).", valueName: "n"))
    var hourly: KeepCount?
    /// Keep the newest backup of each of the last N days that have one.
    @Option(
        name: .customLong("keep-daily"), parsing: .unconditional,
        help: ArgumentHelp("Keep one per day, N days (default 7).", valueName: "n"))
    var daily: KeepCount?
    /// Keep the newest backup of each of the last N ISO weeks that have one.
    @Option(
        name: .customLong("keep-weekly"), parsing: .unconditional,
        help: ArgumentHelp("Keep one per ISO week, N weeks (default 4).", valueName: "n"))
    var weekly: KeepCount?
    /// Keep the newest backup of each of the last N months that have one.
    @Option(
        name: .customLong("keep-monthly"), parsing: .unconditional,
        help: ArgumentHelp("Keep one per month, N months (default 6).", valueName: "n"))
    var monthly: KeepCount?
    /// Keep the newest backup of each of the last N years that have one.
    @Option(
        name: .customLong("keep-yearly"), parsing: .unconditional,
        help: ArgumentHelp(
            "Keep one per year, N years (default 0; -1 or unlimited: no limit, for every rule).", valueName: "n"))
    var yearly: KeepCount?

    var flags: RetentionFlags {
        RetentionFlags(
            last: last?.value, hourly: hourly?.value, daily: daily?.value, weekly: weekly?.value,
            monthly: monthly?.value, yearly: yearly?.value)
    }
}
