import Foundation

/// Which backup a restore reads, and how: a path, the newest of a database in a directory, or a
/// backup on a remote. Holds what the choice needs while the restore runs (the directory's
/// shared lock, a download's scratch directory) and releases it in `close()`.
public final class RestoreSource {
    public let input: RestoreInput
    private var lock: DirectoryLock?
    private let download: String?

    private init(input: RestoreInput, lock: DirectoryLock?, download: String?) {
        self.input = input
        self.lock = lock
        self.download = download
    }

    /// What the user named.
    public enum Choice: Sendable {
        /// A backup file, directory or manifest (on the remote: a path under it).
        case path(String)
        /// The newest backup of this database.
        case latest(database: String)
    }

    /// Where to find the backup and how to open it.
    public struct Request {
        public var choice: Choice
        /// The backup directory, for `.latest` without a remote.
        public var directory: () throws -> String
        /// The destination `--remote` named (it alone is read), or none.
        public var remote: (any RemoteStore)?
        /// The configured destinations, in order: `.latest` takes the newest backup from the first
        /// that has one when the local directory has none (or there is no directory).
        public var fallbacks: [any RemoteStore] = []
        /// Whether the restore could read the backup as it downloads: whole, in one transaction,
        /// on this machine. Otherwise a remote backup is downloaded first.
        public var streamable: Bool
        public var identity: String?
        public var passphrase: String?
        public var environment: [String: String]

        public init(
            choice: Choice, directory: @escaping () throws -> String, remote: (any RemoteStore)?, streamable: Bool,
            identity: String?, passphrase: String?, environment: [String: String]
        ) {
            self.choice = choice
            self.directory = directory
            self.remote = remote
            self.streamable = streamable
            self.identity = identity
            self.passphrase = passphrase
            self.environment = environment
        }
    }

    /// Chooses and opens the backup. From a pgkeep directory the lock is shared: prune cannot
    /// delete the backup while it is restored; other restores and verifies may run beside it.
    public static func open(_ request: Request, onStatus: (String) -> Void) throws -> RestoreSource {
        var path: String
        var lock: DirectoryLock?
        var download: String?
        if let (remote, chosen) = try remoteChoice(request) {
            // Whole, one-transaction restores of compressed (gzip, zstd) backups read as they download; the rest
            // (partial, --jobs, encrypted, directory, compose) from a local copy.
            let manifest = try remote.manifest(of: chosen)
            if request.streamable,
                let input = try? RestoreInput.streaming(
                    RemoteBytes { try remote.open(chosen) }, origin: chosen.dataPath, manifest: manifest)
            {
                return RestoreSource(input: input, lock: nil, download: nil)
            }
            onStatus("downloading \(chosen.dataPath)")
            let fetched = try remote.fetch(chosen)
            download = fetched.scratch
            path = fetched.manifest
        } else {
            switch request.choice {
            case .latest(let database):
                let dir = try request.directory()
                lock = try DirectoryLock(directory: dir, shared: true)
                path = try CatalogScan.latest(in: dir, database: database).manifestPath
            case .path(let given):
                path = given
                lock = try DirectoryLock.forBackup(at: path, shared: true)
            }
        }
        do {
            let input = try RestoreInput.open(
                path, identity: request.identity, passphrase: request.passphrase, environment: request.environment)
            return RestoreSource(input: input, lock: lock, download: download)
        } catch {
            if let download { FileSystem.removeTree(download) }
            throw error
        }
    }

    /// The remote backup to restore, if it is a remote one: on the destination `--remote` named;
    /// else, for `.latest` with nothing in the local directory, the first configured destination
    /// that has a backup of the database.
    static func remoteChoice(_ request: Request) throws -> (any RemoteStore, CatalogScan.Backup)? {
        if let remote = request.remote { return (remote, try choose(request.choice, on: remote)) }
        guard case .latest(let database) = request.choice, !request.fallbacks.isEmpty else { return nil }
        if let dir = try? request.directory(), (try? CatalogScan.latest(in: dir, database: database)) != nil {
            return nil
        }
        for remote in request.fallbacks {
            if let newest = try remote.scan(database: database).backups.first { return (remote, newest) }
        }
        return nil
    }

    /// The remote backup the choice names: the newest of the database, or the one whose data or
    /// manifest is at that path under the remote.
    static func choose(_ choice: Choice, on remote: any RemoteStore) throws -> CatalogScan.Backup {
        switch choice {
        case .latest(let database):
            guard let newest = try remote.scan(database: database).backups.first else {
                throw PGKeepError(.usage, "no backup of database \"\(database)\" on \(remote.target)")
            }
            return newest
        case .path(let given):
            let found = try remote.scan(database: nil).backups.first {
                $0.dataPath == remote.url(given) || $0.manifestPath == remote.url(given)
                    || $0.dataPath.hasSuffix("/" + given)
            }
            guard let found else {
                throw PGKeepError(
                    .usage,
                    "no backup \(given) on \(remote.target) (pgkeep list --remote \(remote.target) shows them)")
            }
            return found
        }
    }

    /// Removes the decrypted and downloaded copies and releases the lock.
    public func close() {
        input.removeScratch()
        if let download { FileSystem.removeTree(download) }
        lock = nil
    }
}
