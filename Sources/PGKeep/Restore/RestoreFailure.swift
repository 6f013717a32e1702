import Foundation

/// How a restore reports its failures: what failed and what the target was left as; a database
/// the restore created is dropped again before the error goes out.
extension RestoreJob {
    /// Drops the database this restore created, retrying while the server comes back (a restart,
    /// a crash) for up to `dropPatience` seconds; says in the error whether it is gone.
    func dropCreated(after error: Error) -> Error {
        let lastError = DatabaseDrop.drop(database, patience: dropPatience) { _ = try maintenanceQuery($0) }
        guard var e = error as? PGKeepError else { return error }
        if let lastError {
            let reason = (lastError as? PGKeepError)?.message ?? "\(lastError)"
            e.message += "; the database \"\(database)\" this restore created could NOT be dropped again (\(reason))"
            e.hint = "drop it by hand once the server is back: DROP DATABASE \(SQL.identifier(database));"
        } else {
            e.message += "; the database \"\(database)\" this restore created was dropped again"
        }
        return e
    }

    /// The error for a failed restore: how many errors, the first one, and the target's state.
    func failure(_ result: ProcessResult) -> PGKeepError {
        let errors = result.stderr.split(separator: "\n").filter { $0.contains("ERROR:") || $0.contains("error:") }
        let first = errors.first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? result.stderrTail(lines: 1)
        let state =
            options.singleTransaction
            ? "the restore ran in one transaction, so the target was left as it was"
            : "with --jobs the restore is not one transaction: objects restored before the error remain"
        let tool = (result.command.executable as NSString).lastPathComponent
        return PGKeepError(
            .backup,
            "restore into \"\(database)\" failed: \(tool) \(result.termination) after "
                + "\(errors.count) error\(errors.count == 1 ? "" : "s"); first: \(first); \(state)",
            command: result.command.description, stderrTail: result.stderrTail(lines: 6),
            hint: first.contains("role")
                ? "the archive names a role the target server lacks: create it, or restore with --no-owner "
                    + "--no-privileges"
                : nil)
    }
}
