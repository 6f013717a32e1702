import ArgumentParser
import Foundation
import PGKeep

/// The `pgkeep` command tree.
public struct PGKeepCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "pgkeep",
        abstract: "Safe, verified, timestamped PostgreSQL backups.",
        discussion: """
            Every backup is written under a temporary name, fsynced, read back and verified, and only \
            then renamed into place with a JSON manifest beside it. A backup exists only once its \
            manifest does. Exit codes: 0 success, 1 a backup (or verify, or status) failed, 3 connection \
            or preflight failure, 4 restored and committed but the check after it could not run (verify: \
            a drill could not run), 64 usage error, 75 another run holds the directory, 124 \
            --max-duration or --stall-timeout ended the run, 130/143 interrupted. \
            Reference: docs/ in the source; `man pgkeep.backup` and so on where the manual pages are \
            installed (the image has them).
            """,
        version: PGKeepVersion.string,
        subcommands: [
            Backup.self, Restore.self, Recover.self, List.self, Prune.self, Pin.self, Unpin.self, Accept.self,
            Run.self, Snapshot.self,
            Verify.self, Status.self, Report.self, Config.self, Schedule.self, Daemon.self, Copy.self, Compare.self,
        ],
        // -h is --host, as in pg_dump and psql; help is --help or -?.
        helpNames: [.long, .customShort("?")]
    )

    public init() {}
}

/// Runs `body` (`operation` names it if a signal interrupts it), printing a PGKeepError (secrets
/// masked) and exiting with its code. After SIGINT/SIGTERM the exit is Cancellation's alone.
func reportingErrors(_ operation: String, _ body: () throws -> Void) throws {
    Cancellation.shared.operation = operation
    do {
        try body()
        Cancellation.shared.waitIfCancelled()
    } catch let error as PGKeepError {
        Cancellation.shared.waitIfCancelled()
        printError(error)
        throw ExitCode(error.exitCode)
    } catch {
        Cancellation.shared.waitIfCancelled()
        throw error
    }
}
