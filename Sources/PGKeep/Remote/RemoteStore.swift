import Foundation

/// An offsite store of backups, the one seam for every kind of store (pg_back's `Repo`): rclone
/// is one conformer (`RcloneRemote`); another store is a new file with a type that conforms, and
/// one line where stores are chosen (`RemoteStores.make`). Its guarantees, whatever the store:
///
/// - `upload`: the data, checked there, then the manifest, checked; on failure nothing that
///   counts as a backup is left (no manifest);
/// - `scan`: only objects with pgkeep's names count, a data object only with its manifest; what
///   the store answered but cannot be read is an error, never "no backups";
/// - `open`: a backup's bytes as they arrive, for a restore that reads as it downloads (the
///   restore checks their sha256 and size against the manifest before it commits);
/// - `fetch`: a backup downloaded into a private scratch directory;
/// - `delete`: the manifest first (from then on it is not a backup), then the data.
///
/// Prune is the same for every store (`prune(database:policy:dryRun:)` below): the policy planned
/// over `scan`, pinned backups kept, `delete` for the rest.
public protocol RemoteStore: AnyObject, Sendable {
    /// Where the store is, as the user wrote it (`s3:bucket/prefix`): messages, metrics, config check.
    var target: String { get }
    /// An object's address under the target, for messages.
    func url(_ relative: String) -> String
    func upload(_ record: BackupRecord) throws -> String
    func scan(database: String?) throws -> CatalogScan
    /// A backup's manifest, read without a local copy.
    func manifest(of backup: CatalogScan.Backup) throws -> Manifest
    func open(_ backup: CatalogScan.Backup) throws -> any ByteStream
    func fetch(_ backup: CatalogScan.Backup) throws -> (manifest: String, scratch: String)
    func delete(_ backup: CatalogScan.Backup) throws
}

/// Bytes arriving from somewhere (a download): read `fd` to its end, then `finish()` says whether
/// everything arrived; `cancel()` when the reader stops early.
public protocol ByteStream: AnyObject {
    var fd: Int32 { get }
    func finish() throws
    func cancel()
}

/// How a restore opens a remote backup's bytes, kept in a `RestoreInput`.
public struct RemoteBytes: Sendable {
    let open: @Sendable () throws -> any ByteStream

    public init(_ open: @escaping @Sendable () throws -> any ByteStream) { self.open = open }
}

extension RemoteStore {
    /// The retention policy on the store, with the local guarantees: only backups with a manifest
    /// count, pinned ones are kept, the manifest goes first, nothing else is touched.
    public func prune(database: String?, policy: RetentionPolicy, dryRun: Bool) throws -> PruneJob.Result {
        try policy.validate()
        let scan = try self.scan(database: database)
        var result = PruneJob.Result()
        result.items = PruneJob(directory: target, database: database, policy: policy).plan(scan)
        result.broken = scan.broken
        result.orphans = scan.orphans
        result.dryRun = dryRun
        guard !dryRun else { return result }
        for item in result.items where !item.decision.keep {
            try delete(item.entry)
        }
        return result
    }
}

/// Where stores are chosen: a target names its kind. Today every target is an rclone remote
/// (`REMOTE:bucket/prefix`); another store adds its line here.
public enum RemoteStores {
    public static func make(target: String, environment: [String: String]) throws -> any RemoteStore {
        try RcloneRemote(target: target, environment: environment)
    }
}
