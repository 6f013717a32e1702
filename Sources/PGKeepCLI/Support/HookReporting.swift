import Foundation
import PGKeep

extension Hooks {
    /// After a backup run: on_success for each database whose backup was recorded (and pruned)
    /// without error, on_failure for each that failed. Hook failures are printed as warnings.
    func fire(for summary: BackupJob.Summary) {
        let failed = Set(summary.failures.map(\.database))
        for record in summary.records where !failed.contains(record.manifest.database) {
            warn(run(.init(database: record.manifest.database, backupPath: record.path, error: nil)))
        }
        for (database, error) in summary.failures {
            warn(run(.init(database: database, backupPath: nil, error: error.message)))
        }
    }

    /// A run that failed before any database: on_failure hears of it with an empty database.
    func fire(before error: PGKeepError, database: String = "") {
        guard Cancellation.shared.signalReceived == nil else { return }
        warn(run(.init(database: database, backupPath: nil, error: error.message)))
    }

    /// Runs the backups and the hooks: on_failure also hears of a run that failed before any
    /// database (no lock, no connection).
    func firing(database: String = "", _ body: () throws -> BackupJob.Summary) throws -> BackupJob.Summary {
        let summary: BackupJob.Summary
        do {
            summary = try body()
        } catch let error as PGKeepError {
            fire(before: error, database: database)
            throw error
        }
        return summary
    }

    private func warn(_ error: PGKeepError?) {
        if let error { printStderr("pgkeep: warning: " + error.description) }
    }
}
