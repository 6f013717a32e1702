import Foundation

/// An error the user sees: what failed, the command that failed (password never included),
/// the tail of its stderr, and what to do next. `kind` decides the exit code.
public struct PGKeepError: Error, CustomStringConvertible, Sendable {
    /// The classes of failure that have their own exit code (see docs/exit-codes.md).
    public enum Kind: Sendable, Equatable {
        /// Bad flags or values; nothing was attempted.
        case usage
        /// Could not connect, tools missing or too old, or another check before any file was created.
        case preflight
        /// The dump, the write, or the verification of a backup failed.
        case backup
        /// Another pgkeep run holds the backup directory.
        case locked
        /// The work itself succeeded and was made permanent (a restore committed), but a check
        /// after it could not run; or a drill could not run for a reason outside the backup.
        case unchecked
        /// A bound ended the run: `--max-duration`, `--stall-timeout`.
        case timedOut
    }

    public var kind: Kind
    public var message: String
    public var command: String?
    public var stderrTail: String?
    public var hint: String?

    public init(_ kind: Kind, _ message: String, command: String? = nil, stderrTail: String? = nil, hint: String? = nil)
    {
        self.kind = kind
        self.message = message
        self.command = command
        self.stderrTail = stderrTail
        self.hint = hint
    }

    /// The process exit code for this error (documented in docs/exit-codes.md).
    public var exitCode: Int32 {
        switch kind {
        case .usage: return ExitCodes.usage
        case .preflight: return ExitCodes.preflight
        case .backup: return ExitCodes.failure
        case .locked: return ExitCodes.locked
        case .unchecked: return ExitCodes.unchecked
        case .timedOut: return ExitCodes.timedOut
        }
    }

    public var description: String {
        var lines = [message]
        if let command { lines.append("  command: \(command)") }
        if let tail = stderrTail?.trimmingCharacters(in: .whitespacesAndNewlines), !tail.isEmpty {
            lines.append(contentsOf: tail.split(separator: "\n", omittingEmptySubsequences: false).map { "  | \($0)" })
        }
        if let hint { lines.append("  hint: \(hint)") }
        return lines.joined(separator: "\n")
    }
}

/// Exit codes shared by every subcommand.
public enum ExitCodes {
    /// A backup (dump, write, verification) failed; no partial file was left behind.
    public static let failure: Int32 = 1
    /// Connection or another preflight check failed before any file was created.
    public static let preflight: Int32 = 3
    /// Restore: restored and committed, but the check after the commit could not run. Verify:
    /// a drill could not run for a reason outside the backup (the server went away, a timeout,
    /// a read-only target); the backup is not blamed.
    public static let unchecked: Int32 = 4
    /// `--max-duration` or `--stall-timeout` ended the run, cleaned up as after SIGTERM (the
    /// code `timeout(1)` uses).
    public static let timedOut: Int32 = 124
    /// Another pgkeep run holds the backup directory; nothing was done (EX_TEMPFAIL).
    public static let locked: Int32 = 75
    /// Invalid command line (the same code swift-argument-parser uses, EX_USAGE).
    public static let usage: Int32 = 64
}

/// The text of `errno`, for messages.
func errnoText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}
