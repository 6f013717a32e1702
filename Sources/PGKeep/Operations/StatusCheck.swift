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

    /// `[status] rto` and `drill_max_age` (see `RestoreForecast`).
    public var forecast = RestoreForecast()
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
        /// The newest backup shrank against the normal ones (not accepted): what it lost.
        public var anomalies: [String] = []
        /// The newest backup's size, format and duration (for metrics).
        public var newest: ManifestSummary?
        /// Backups of this database here, and the time of the oldest.
        public var count = 0
        public var oldestTime: Date?
        /// How long a whole restore of the newest backup should take (see `RestoreForecast`).
        public var forecast: TimeInterval?
        /// When the last drill of this database's backups ran, and whether it passed.
        public var lastDrill: Date?
        /// What breaks `[status] rto` or `drill_max_age`, in words.
        public var drillProblem: String?
        public var ok: Bool { fresh && anomalies.isEmpty && drillProblem == nil }
    }

    public struct Report: Sendable {
        public var entries: [Entry]
        public var maxAge: TimeInterval
        public var ok: Bool { !entries.isEmpty && entries.allSatisfy(\.ok) }
    }

    /// The local directory, and every destination in `remotes` too: each must be fresh. With
    /// `remoteOnly`, the destinations alone.
    public func run(remotes: [any RemoteStore] = [], now: Date = Date()) throws -> Report {
        if remoteOnly && remotes.isEmpty {
            throw PGKeepError(
                .usage,
                "--remote-only: the backups are on a remote, so status needs it: give --remote REMOTE:bucket/prefix"
            )
        }
        var entries: [Entry] = []
        if !remoteOnly {
            // A database at a time: 100,000 backups never sit in memory at once.
            var found: [String: Entry] = [:]
            if FileManager.default.fileExists(atPath: directory) {
                // By name: the globals and a database named "@globals" are one entry here.
                try CatalogScan.eachDatabase(directory, cached: true, byName: true) { part in
                    let byDatabase = Self.byDatabase(part.backups)
                    let wanted = byDatabase.keys.filter { databases?.contains($0) ?? true }.sorted()
                    for entry in evaluate(byDatabase, location: "local", now: now, wanted: wanted) {
                        // Drills are recorded in the local manifests: local entries get a forecast.
                        found[entry.database] = forecast.apply(
                            to: entry, backups: byDatabase[entry.database] ?? [], now: now)
                    }
                }
            }
            entries = (databases ?? found.keys.sorted()).map { db in
                guard var entry = found[db] else { return evaluate([:], location: "local", now: now, wanted: [db])[0] }
                entry.database = db  // as asked for (another spelling of the same name finds it too)
                return entry
            }
        }
        for remote in remotes {
            entries += evaluate(
                Self.byDatabase(try remote.scan(database: nil).backups), location: remote.target, now: now)
        }
        return Report(entries: entries, maxAge: maxAge)
    }

    /// Backups by database (the globals under `@globals`), in the order given.
    static func byDatabase(_ backups: [CatalogScan.Backup]) -> [String: [CatalogScan.Backup]] {
        var byDatabase: [String: [CatalogScan.Backup]] = [:]
        for b in backups {
            byDatabase[b.name.format == .globals ? BackupName.globalsDatabase : b.name.database, default: []].append(b)
        }
        return byDatabase
    }

    /// An entry for each database of `wanted` (by default the ones asked for, or else every one found).
    func evaluate(
        _ byDatabase: [String: [CatalogScan.Backup]], location: String, now: Date, wanted: [String]? = nil
    ) -> [Entry] {
        let wanted = wanted ?? databases ?? byDatabase.keys.sorted()
        return wanted.map { db -> Entry in
            let mine = byDatabase[db] ?? []
            guard let b = mine.max(by: { $0.name.time < $1.name.time }) else {
                return Entry(database: db, location: location, fresh: false)
            }
            let age = now.timeIntervalSince(b.name.time)
            var entry = Entry(
                database: db, location: location, newestPath: b.dataPath, newestTime: b.name.time, age: age,
                fresh: age <= maxAge)
            if b.manifest.isAnomalous { entry.anomalies = b.manifest.anomalies ?? [] }
            entry.newest = b.manifest
            entry.count = mine.count
            entry.oldestTime = mine.map(\.name.time).min()
            return entry
        }
    }
}
