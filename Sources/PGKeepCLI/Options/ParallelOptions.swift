import ArgumentParser
import Foundation
import PGKeep

/// `--parallel N` (backup and run) and, for `run` alone, `--shard I/N` and `--force`.
struct ParallelOptions: ParsableArguments {
    @Option(
        name: .customLong("parallel"),
        help: ArgumentHelp(
            "Back up this many databases at once, the largest first (default: [backup] parallel, else 1).",
            valueName: "n"))
    var parallel: Int?

    func validate() throws {
        if let parallel, !(1...64).contains(parallel) {
            throw ValidationError("--parallel must be 1 to 64 (got \(parallel))")
        }
    }
}

/// `run`'s share of a fleet: `--shard I/N` and `--force`.
struct ShardOptions: ParsableArguments {
    @Option(
        name: .customLong("shard"),
        help: ArgumentHelp(
            "Back up only the (server, database) pairs of shard I of N (default: JOB_COMPLETION_INDEX with "
                + "PGKEEP_SHARDS).",
            valueName: "I/N"))
    var shard: String?

    @Flag(help: "Back up even a database whose newest backup is newer than [schedule] min_interval.")
    var force = false

    func validate() throws {
        if let shard {
            do { _ = try Shard.parse(shard) } catch let error as PGKeepError { throw ValidationError(error.message) }
        }
    }

    func apply(to flags: inout BackupFlags) throws {
        flags.fleetRun = true
        flags.shard = try shard.map { try Shard.parse($0) }
        flags.force = force
    }
}
