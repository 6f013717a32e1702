import ArgumentParser
import Foundation
import PGKeep

/// Process-wide output settings: --quiet and --log-file.
enum Output {
    /// Set once by `OutputOptions.apply` before any job starts; read afterwards, also from the
    /// jobs' callback threads.
    nonisolated(unsafe) static var quiet = false
    /// Set once with `quiet`; `LogFile` serializes its appends.
    nonisolated(unsafe) static var log: LogFile?

    /// A line for the log file (when there is one) and the log's tail that monitoring sends.
    static func record(_ text: String) {
        log?.append(text)
        LogTail.shared.append(text)
    }
}

func printError(_ error: PGKeepError) {
    printStderr("pgkeep: error: " + error.description)
}

/// A line on stderr (secrets masked), and in the log file when there is one.
func printStderr(_ line: String) {
    let text = Redaction.shared.apply(line)
    Console.err(text + "\n")
    Output.record(text)
}

/// A line that --quiet keeps off the terminal; the log file gets it all the same.
func printInfo(_ line: String) {
    if Output.quiet {
        Output.record(line)
    } else {
        printStderr(line)
    }
}

/// A --json output on stdout: `value` pretty-printed with sorted keys (`JSONOutput.report`), and a
/// newline.
func printJSON<T: Encodable>(_ value: T) {
    if let data = JSONOutput.report(value) {
        Console.write(STDOUT_FILENO, data + Data("\n".utf8))
    }
}

/// A backup argument or `--latest --database NAME`, one of the two (restore, recover).
func validateBackupChoice(backup: String?, latest: Bool, database: String?, what: String) throws {
    if latest {
        guard backup == nil else { throw ValidationError("give a backup path or --latest, not both") }
        guard database != nil else { throw ValidationError("--latest needs --database NAME") }
    } else if backup == nil {
        throw ValidationError("name \(what), or use --latest --database NAME --dir DIR")
    }
}

/// Exit 1 (a backup, verify or status failed) when `failed`.
func exitIfFailed(_ failed: Bool) throws {
    if failed { throw ExitCode(ExitCodes.failure) }
}
