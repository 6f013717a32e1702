import Foundation

/// `--log-file`: every line pgkeep prints (and, with --quiet, the lines it does not print) is
/// appended with a UTC timestamp and the process id. The file is created 0600; lines are written
/// with one write(2) each on an O_APPEND descriptor, so runs that share a log do not interleave
/// within a line. Secrets are masked like everything else pgkeep prints.
public final class LogFile: Sendable {
    public let path: String
    private let fd: Int32

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw PGKeepError(
                .usage, "cannot open the log file \(path): \(errnoText())",
                hint: "check that its folder exists and is writable by this user")
        }
    }

    deinit { close(fd) }

    /// Appends `text` (possibly several lines), each line stamped.
    public func append(_ text: String) {
        let out = Self.stamped(text)
        guard !out.isEmpty else { return }
        Console.write(fd, Data(out.utf8))
    }

    /// `text` as the log writes it: secrets masked, each line stamped with the time and the pid.
    static func stamped(_ text: String) -> String {
        let stamp = BackupName.isoString(Date())
        var out = ""
        for line in Redaction.shared.apply(text).split(separator: "\n", omittingEmptySubsequences: true) {
            out += "\(stamp) pgkeep[\(getpid())]: \(line)\n"
        }
        return out
    }
}
