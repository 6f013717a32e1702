import Foundation

/// What follows a recorded (and so verified) backup: its upload to the remote, with
/// `remoteOnly` the removal of the local copy, then the prune of its database, locally and on
/// the remote. A failed backup never gets here; a failed upload keeps the local backup and
/// stops before any prune.
struct AfterBackup {
    let options: BackupOptions
    var onUploaded: ((BackupRecord, String) -> Void)?
    var onPruned: ((PruneJob.Result) -> Void)?

    func run(_ record: BackupRecord) throws {
        if let remote = options.remote {
            try upload(record, to: remote)
        }
        guard let policy = options.prune else { return }
        let database = record.manifest.format == .globals ? BackupName.globalsDatabase : record.manifest.database
        var job = PruneJob(directory: options.directory, database: database, policy: policy)
        job.lockHeld = true
        onPruned?(try job.run())
        if let remote = options.remote {
            onPruned?(try remote.prune(database: database, policy: policy, dryRun: false))
        }
    }

    private func upload(_ record: BackupRecord, to remote: any RemoteStore) throws {
        let url: String
        do {
            url = try remote.upload(record)
        } catch let e as PGKeepError {
            throw PGKeepError(
                .backup,
                "the local backup \(record.path) is complete and verified, but its upload failed: \(e.message)",
                command: e.command, stderrTail: e.stderrTail, hint: e.hint ?? "run the backup again, or copy it by hand"
            )
        }
        onUploaded?(record, url)
        if options.remoteOnly {
            // The manifest first, as prune does: the local copy stops being a backup, then goes.
            FileSystem.removeTree(record.manifestPath)
            FileSystem.removeTree(record.path)
            try? FileSystem.syncPath((record.path as NSString).deletingLastPathComponent)
        }
    }
}
