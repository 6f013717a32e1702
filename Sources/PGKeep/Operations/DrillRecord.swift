import Foundation

extension VerifyJob {
    /// The drill's restore and its checks: a restore that fails for a reason outside the backup
    /// is `.unchecked` ("could not run"), every other failure blames the backup.
    static func drillResult(_ job: RestoreJob, _ input: RestoreInput) throws -> RestoreResult {
        let result: RestoreResult
        do {
            result = try job.run()
        } catch let error as PGKeepError {
            if let cause = DrillFailure.outsideTheBackup(error) {
                throw PGKeepError(
                    .unchecked,
                    "the restore drill of \(input.origin) could not run (\(cause)): \(error.message); "
                        + "this says nothing about the backup", command: error.command, stderrTail: error.stderrTail,
                    hint: "run the drill again once the drill server is back and writable")
            }
            throw PGKeepError(
                error.kind, "restore drill of \(input.origin) failed: \(error.message)", command: error.command,
                stderrTail: error.stderrTail,
                hint: error.hint ?? "this backup does not restore; keep an earlier one and take a new backup")
        }
        guard result.mismatches.isEmpty else {
            let shown = result.mismatches.prefix(5).map {
                "\($0.table): \($0.expected) in the manifest, \($0.found.map(String.init) ?? "missing") restored"
            }
            throw PGKeepError(
                .backup,
                "restore drill of \(input.origin): row counts differ from the manifest: "
                    + shown.joined(separator: "; "))
        }
        guard result.differences.isEmpty else {
            throw PGKeepError(
                .backup,
                "restore drill of \(input.origin): the restored data differs from the backup's fingerprint: "
                    + result.differences.prefix(5).joined(separator: "; "))
        }
        return result
    }
}

/// A drill's outcome and timings, written into the backup's manifest (`drill`): `status` forecasts
/// a restore's duration from them and checks how long ago the last one ran.
enum DrillRecord {
    /// Rewrites the manifest beside a local backup (atomically; the caller holds the directory's
    /// lock shared, so no prune runs meanwhile). A backup read from a remote is not recorded.
    static func write(_ input: RestoreInput, started: Date, result: RestoreResult?, error: String?) {
        guard var manifest = input.manifest, input.stream == nil else { return }
        let path = input.path + BackupName.manifestSuffix
        guard FileManager.default.fileExists(atPath: path) else { return }
        let seconds = (Date().timeIntervalSince(started) * 1000).rounded() / 1000
        manifest.drill = Manifest.Drill(
            at: BackupName.isoString(started), ok: result != nil, seconds: seconds, phases: result?.phases ?? [:],
            rows: result.map { $0.rowCounts.values.reduce(0, +) }, bytes: manifest.uncompressedSize ?? manifest.size,
            error: error.map { String($0.prefix(500)) })
        guard let data = try? manifest.encoded() else { return }
        try? FileSystem.replace(path, with: data)
        try? FileSystem.syncPath(FileSystem.parent(of: path))
    }
}
