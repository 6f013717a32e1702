import Foundation

/// `pgkeep snapshot`, the backup before a major-version upgrade: every database and the globals
/// in custom format, each manifest pinned and labelled, a restore drill per database, and the
/// commands that restore it all on the new server.
public final class SnapshotJob {
    /// The backups, already built with `all` and `pin` (see `SnapshotJob.backupFlags`).
    public let backup: BackupJob
    /// The verifier the drills run through (identity and passphrase set by the caller).
    public let verifier: VerifyJob
    /// The server named in the printed commands, and the new server's URI if the user gave one.
    public let source: String
    public let newServer: String?
    public let label: String
    /// Each database whose drill passed, with the drill's last check.
    public var onDrill: ((BackupRecord, String) -> Void)?

    public init(
        backup: BackupJob, verifier: VerifyJob, source: String, newServer: String?,
        label: String
    ) {
        self.backup = backup
        self.verifier = verifier
        self.source = source
        self.newServer = newServer
        self.label = label
    }

    /// The flags a snapshot fixes: all databases, custom format, pinned, no upload; exact row
    /// counts where libpq reaches the server (not inside compose).
    public static func backupFlags(label: String, inCompose: Bool) -> BackupFlags {
        var flags = BackupFlags()
        flags.all = true
        flags.pin = true
        flags.label = label
        flags.format = .custom
        flags.jobs = 1
        flags.upload = false
        flags.rowCounts = !inCompose
        flags.fingerprint = !inCompose
        return flags
    }

    /// Refuses a drill that this machine's tools could not reach.
    public static func checkDrill(inCompose: Bool, drill: Bool, drillServerGiven: Bool) throws {
        if inCompose && drill && !drillServerGiven {
            throw PGKeepError(
                .usage,
                "the drill restores through this machine's pg_restore and psql, which cannot reach a server inside "
                    + "docker compose by itself",
                hint: "give --drill-dbname URI (a server reachable from here, such as a published port), or --no-drill")
        }
    }

    /// What a snapshot did: the backups, and either the restore commands or why not to upgrade.
    public struct Result {
        public var summary: BackupJob.Summary
        /// The commands to restore everything on the new server (nil when the snapshot failed).
        public var instructions: String?
        /// Why the upgrade must wait (nil on success).
        public var failure: String?
    }

    public func run() throws -> Result {
        let summary = try backup.run()
        if !summary.failures.isEmpty {
            let names = summary.failures.map(\.database).joined(separator: ", ")
            return Result(
                summary: summary, instructions: nil,
                failure: "snapshot FAILED: \(names) could not be backed up; do not upgrade until a snapshot succeeds. "
                    + "The files that were written are pinned; unpin them with pgkeep unpin.")
        }
        // The verifier restores into its drill server; without one there is no drill.
        if verifier.drill != nil {
            for record in summary.records where record.manifest.format != .globals {
                do {
                    let outcome = try verifier.verify(record.manifestPath)
                    onDrill?(record, outcome.checks.last ?? "")
                } catch let error as PGKeepError {
                    return Result(
                        summary: summary, instructions: nil,
                        failure: "snapshot FAILED: the restore drill of \(record.manifest.database) failed; "
                            + "do not upgrade until it passes.\n" + error.description)
                }
            }
        }
        let text = UpgradeInstructions.text(
            records: summary.records, source: source, newServer: newServer, label: label)
        return Result(summary: summary, instructions: text, failure: nil)
    }
}

extension ConnectionSpec {
    /// The server as libpq finds it: PG* variables fill the host, port and user the spec leaves out.
    public func filledFromEnvironment(_ env: [String: String]) -> ConnectionSpec {
        var shown = self
        for (key, variable) in [("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER")]
        where shown.parameters[key] == nil {
            shown.parameters[key] = env[variable]
        }
        return shown
    }
}
