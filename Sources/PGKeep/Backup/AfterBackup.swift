import Foundation

/// What follows a recorded (and so verified) backup: its upload to every destination, with
/// `remoteOnly` the removal of the local copy, then the prune of its database, locally and on
/// each destination that took it (with its own policy: flags > `[remote.retention]` > `[retention]`). A failed
/// backup never gets here. One destination failing does not stop the others; the local backup
/// then stays, whatever `remoteOnly` says, and the error names each destination that failed.
struct AfterBackup {
    let options: BackupOptions
    var onUploaded: ((BackupRecord, String) -> Void)?
    var onPruned: ((PruneJob.Result) -> Void)?
    /// Prune the local directory here (false for a shard, which prunes at its end under the
    /// directory's exclusive lock: see `BackupJob.pruneAfterShard`).
    var localPrune = true

    func run(_ record: BackupRecord) throws {
        var failed: [(String, PGKeepError)] = []
        var took: [Destination] = []
        for destination in options.destinations {
            do {
                onUploaded?(record, try destination.store.upload(record))
                took.append(destination)
            } catch {
                failed.append((destination.name, error as? PGKeepError ?? PGKeepError(.backup, "\(error)")))
            }
        }
        if options.remoteOnly && failed.isEmpty && !took.isEmpty {
            // The manifest first, as prune does: the local copy stops being a backup, then goes.
            FileSystem.removeTree(record.manifestPath)
            FileSystem.removeTree(record.path)
            try? FileSystem.syncPath(FileSystem.parent(of: record.path))
        }
        if let policy = options.prune {
            let database =
                record.manifest.format == .globals ? BackupName.globalsDatabase : record.manifest.database
            if localPrune {
                var job = PruneJob(directory: options.directory, database: database, policy: policy)
                job.lockHeld = true
                onPruned?(try job.run())
            }
            for destination in took {
                onPruned?(
                    try destination.store.prune(
                        database: database, policy: destination.policy, dryRun: false))
            }
        }
        guard let first = failed.first else { return }
        let names = failed.map { "\($0.0) (\($0.1.message))" }.joined(separator: "; ")
        let others = took.isEmpty ? "" : "; it is on \(took.map(\.name).joined(separator: ", "))"
        throw PGKeepError(
            .backup,
            "the local backup \(record.path) is complete and verified, but its upload to "
                + "\(failed.count) of \(options.destinations.count) destinations failed: \(names)\(others)",
            command: first.1.command, stderrTail: first.1.stderrTail,
            hint: first.1.hint ?? "run the backup again once the destination is back, or copy it by hand")
    }
}
