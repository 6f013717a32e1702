import Foundation

/// `pgkeep status`: is there a verified backup (one with a manifest) newer than `maxAge` for
/// every database that should have one? For monitoring and container healthchecks.
public struct StatusCheck: Sendable {
    public var directory: String
    /// The databases that must be fresh; nil: every database found in the directory.
    public var databases: [String]?
    public var maxAge: TimeInterval
    /// Backups are kept on the remote only (`remote_only`): the local directory is empty on
    /// purpose and only the remote counts.
    public var remoteOnly: Bool

    public init(directory: String, databases: [String]?, maxAge: TimeInterval, remoteOnly: Bool = false) {
        self.directory = directory
        self.databases = databases
        self.maxAge = maxAge
        self.remoteOnly = remoteOnly
    }

    public struct Entry: Sendable {
        public var database: String
        /// "local" or the remote's target.
        public var location: String = "local"
        public var newestPath: String?
        public var newestTime: Date?
        public var age: TimeInterval?
        public var fresh: Bool
    }

    public struct Report: Sendable {
        public var entries: [Entry]
        public var maxAge: TimeInterval
        public var ok: Bool { !entries.isEmpty && entries.allSatisfy(\.fresh) }
    }

    /// The local directory, and with `remote` the remote too: each must be fresh. With
    /// `remoteOnly`, the remote alone.
    public func run(remote: RcloneRemote? = nil, now: Date = Date()) throws -> Report {
        if remoteOnly && remote == nil {
            throw PGKeepError(
                .usage,
                "--remote-only: the backups are on a remote, so status needs it: give --remote REMOTE:bucket/prefix"
            )
        }
        var entries: [Entry] = []
        if !remoteOnly {
            var scan = CatalogScan()
            if FileManager.default.fileExists(atPath: directory) {
                scan = try CatalogScan.scan(directory)
            }
            entries = evaluate(scan.backups, location: "local", now: now)
        }
        if let remote {
            entries += evaluate(try remote.scan().backups, location: remote.target, now: now)
        }
        return Report(entries: entries, maxAge: maxAge)
    }

    func evaluate(_ backups: [CatalogScan.Backup], location: String, now: Date) -> [Entry] {
        var newest: [String: CatalogScan.Backup] = [:]
        for b in backups {
            let key = b.name.format == .globals ? BackupName.globalsDatabase : b.name.database
            if let current = newest[key], current.name.time >= b.name.time { continue }
            newest[key] = b
        }
        let wanted = databases ?? newest.keys.sorted()
        return wanted.map { db -> Entry in
            guard let b = newest[db] else { return Entry(database: db, location: location, fresh: false) }
            let age = now.timeIntervalSince(b.name.time)
            return Entry(
                database: db, location: location, newestPath: b.dataPath, newestTime: b.name.time, age: age,
                fresh: age <= maxAge)
        }
    }
}
