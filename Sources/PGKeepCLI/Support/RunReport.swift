import Foundation
import PGKeep

/// The one summary of `pgkeep run`: a line on success (kept off the terminal by --quiet), one
/// block on failure.
enum RunReport {
    static func show(_ summary: BackupJob.Summary, started: Date) {
        let failed = Set(summary.failures.map(\.database))
        let seconds = String(format: "%.1f s", Date().timeIntervalSince(started))
        let ok = summary.records.filter { !failed.contains($0.manifest.database) }.count
        for note in summary.notes { printStderr("pgkeep: note: " + note) }
        let skipped =
            summary.skipped.isEmpty
            ? ""
            : ", \(summary.skipped.count) skipped (a backup newer than [schedule] min_interval: "
                + summary.skipped.joined(separator: ", ") + "; --force backs them up)"
        if summary.failures.isEmpty {
            printInfo("pgkeep: run finished: \(ok) backed up and verified, 0 failed\(skipped) (\(seconds))")
            return
        }
        let total = ok + summary.failures.count
        var block = [
            "pgkeep: run FAILED: \(summary.failures.count) of \(total) failed, \(ok) backed up and verified"
                + "\(skipped) (\(seconds))"
        ]
        for (database, error) in summary.failures {
            block.append("  \(database): " + error.description.replacingOccurrences(of: "\n", with: "\n  "))
        }
        block.append(
            "  what to do: fix the cause above and run again; the backups that succeeded are complete and verified.")
        printStderr(block.joined(separator: "\n"))
    }
}
