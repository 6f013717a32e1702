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
        or preflight failure, 64 usage error, 75 another run holds the directory, 130/143 interrupted.
        """,
        version: PGKeepVersion.string,
        subcommands: [Backup.self, Restore.self, List.self, Prune.self, Pin.self, Unpin.self, Run.self, Snapshot.self, Verify.self, Status.self, Config.self, Schedule.self],
        // -h is --host, as in pg_dump and psql; help is --help or -?.
        helpNames: [.long, .customShort("?")]
    )

    public init() {}
}

/// Runs `body`, printing a PGKeepError (secrets masked) and exiting with its code.
func reportingErrors(_ body: () throws -> Void) throws {
    Runtime.prepare()
    do {
        try body()
    } catch let error as PGKeepError {
        if Cancellation.shared.signalReceived != nil {
            // The signal handler is cleaning up and will exit with 128+signal.
            Thread.sleep(forTimeInterval: 10)
        }
        printError(error)
        throw ExitCode(error.exitCode)
    }
}

/// Process-wide output settings: --quiet and --log-file.
enum Output {
    nonisolated(unsafe) static var quiet = false
    nonisolated(unsafe) static var log: LogFile?
}

func printError(_ error: PGKeepError) {
    printStderr("pgkeep: error: " + error.description)
}

/// A line on stderr (secrets masked), and in the log file when there is one.
func printStderr(_ line: String) {
    let text = Redaction.shared.apply(line)
    Console.err(text + "\n")
    Output.log?.append(text)
}

/// A line that --quiet keeps off the terminal; the log file gets it all the same.
func printInfo(_ line: String) {
    if Output.quiet {
        Output.log?.append(line)
    } else {
        printStderr(line)
    }
}

/// A JSON object on stdout, pretty-printed with sorted keys (the --json outputs).
func printJSON(_ object: [String: Any]) {
    if let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) {
        Console.write(STDOUT_FILENO, data + Data("\n".utf8))
    }
}
