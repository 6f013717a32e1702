import ArgumentParser
import Foundation
import PGKeep

/// How long pgkeep waits for a lock, for the whole run, and without progress, for every command
/// that talks to a server (see docs/bounds.md).
struct BoundsOptions: ParsableArguments {
    /// Bound on every wait for a lock (pg_dump's, pgkeep's sessions', the restore's DDL).
    @Option(
        name: .customLong("lock-wait-timeout"),
        help: ArgumentHelp(
            "Give up a lock wait after this long and name who holds the lock (default 10m; none: wait forever).",
            valueName: "duration"))
    var lockWaitTimeout: String?

    /// A deadline for the whole run.
    @Option(
        name: .customLong("max-duration"),
        help: ArgumentHelp("End the run, cleanly, after this long (default: none).", valueName: "duration"))
    var maxDuration: String?

    /// No-progress bound.
    @Option(
        name: .customLong("stall-timeout"),
        help: ArgumentHelp(
            "End the run when no data moved and the server did no work for it this long (default 5m; none: off).",
            valueName: "duration"))
    var stallTimeout: String?

    var flags: BoundsFlags {
        BoundsFlags(lockWaitTimeout: lockWaitTimeout, maxDuration: maxDuration, stallTimeout: stallTimeout)
    }

    func validate() throws {
        for (name, value) in [
            ("--lock-wait-timeout", lockWaitTimeout), ("--max-duration", maxDuration),
            ("--stall-timeout", stallTimeout),
        ] {
            guard let value else { continue }
            do { _ = try BoundsFlags.parse(value) } catch {
                throw ValidationError("\(name): \"\(value)\" is not a duration; write e.g. 90s, 10m, 1h30m or none")
            }
        }
    }
}
