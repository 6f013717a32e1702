import Foundation

/// Applies a retention policy to a backup directory, each database on its own.
///
/// Deleting a backup first renames its manifest to `.pgkeep-deleting-<name>` (and fsyncs the
/// folder), then removes the data, then that tombstone: a crash in between never leaves a manifest
/// that points at a missing file; it leaves data that the tombstone marks as pgkeep's leftover,
/// never counted and removed by the next run. Temporary files are removed only while this run
/// holds the directory lock, and only when the pgkeep that wrote them is gone (the pid in their
/// name no longer runs) or they are older than `safeAge`, so nothing in progress is touched.
/// Files pgkeep cannot show it made (no manifest, no marker) are never deleted.
public struct PruneJob {
    public var directory: String
    public var database: String?
    public var policy: RetentionPolicy
    public var dryRun = false
    public var now = Date()
    public var safeAge: TimeInterval = 3600
    /// Set when the caller (backup --prune) already holds the directory lock.
    public var lockHeld = false

    public init(directory: String, database: String? = nil, policy: RetentionPolicy) {
        self.directory = directory
        self.database = database
        self.policy = policy
    }

    /// One backup and what the policy decided.
    public struct Item: Sendable {
        public var entry: CatalogScan.Backup
        public var decision: RetentionDecision
    }

    public struct Result: Sendable {
        public var items: [Item] = []
        public var leftovers: [String] = []
        public var temporary: [String] = []
        public var broken: [String] = []
        /// Manifest-less files with pgkeep names and no marker: reported, never deleted.
        public var orphans: [String] = []
        public var dryRun = false
        public var deleted: Int { items.filter { !$0.decision.keep }.count }
    }

    /// Decisions only, nothing deleted (for `list` and `--dry-run`).
    public func plan(_ scan: CatalogScan) -> [Item] {
        // Each database (and the globals) on its own, in name order.
        let groups = Dictionary(grouping: scan.backups) {
            GroupKey(globals: $0.name.format == .globals, database: $0.name.database)
        }
        var items: [Item] = []
        items.reserveCapacity(scan.backups.count)
        for key in groups.keys.sorted() {
            // One order for the table and the policy: the scan's (`Backup.newerFirst`, which both
            // scanners sort by); grouping keeps it.
            let entries = groups[key]!
            let decisions = policy.decide(
                ordered: entries.map {
                    RetentionItem(
                        id: "", time: $0.name.time, pinned: $0.manifest.pinned, anomalous: $0.manifest.isAnomalous)
                })
            items += zip(entries, decisions).map { Item(entry: $0, decision: $1) }
        }
        return items
    }

    /// A database's backups, or the globals: what retention counts on its own.
    private struct GroupKey: Hashable, Comparable {
        var globals: Bool
        var database: String
        static func < (a: GroupKey, b: GroupKey) -> Bool {
            (a.globals ? 0 : 1, a.database) < (b.globals ? 0 : 1, b.database)
        }
    }

    /// Whether the pgkeep that wrote `.pgkeep-tmp-<pid>-...` no longer runs on this host.
    static func writerIsGone(_ name: String) -> Bool {
        guard name.hasPrefix(".pgkeep-tmp-") else { return false }
        let digits = name.dropFirst(".pgkeep-tmp-".count).prefix { $0.isNumber }
        guard let pid = Int32(digits), pid > 0, pid != getpid() else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    public func run() throws -> Result {
        try policy.validate()
        var st = stat()
        guard lstat(directory, &st) == 0 else { throw PGKeepError(.usage, "\(directory) does not exist") }
        let lock = dryRun || lockHeld ? nil : try DirectoryLock(directory: directory)
        defer { _ = lock }
        // A dry run deletes nothing: it may read the catalog cache, as `list` does.
        let scan = try CatalogScan.scan(directory, database: database, cached: dryRun)
        var result = Result(items: plan(scan), broken: scan.broken, dryRun: dryRun)
        result.leftovers = scan.leftovers
        result.temporary = removable(scan.temporary)
        result.orphans = scan.orphans
        guard !dryRun else { return result }

        var touched = Set<String>()
        for item in result.items where !item.decision.keep {
            try delete(item.entry)
            touched.insert(FileSystem.parent(of: item.entry.manifestPath))
        }
        for path in result.leftovers + result.temporary {
            FileSystem.removeTree(path)
            touched.insert(FileSystem.parent(of: path))
        }
        for folder in touched { try? FileSystem.syncPath(folder) }
        return result
    }

    /// A dry run read and decided a database at a time (`CatalogScan.eachDatabase`, through the
    /// catalog cache): each database's decisions go to `body` as they are made, and the result is
    /// `run()`'s without its items, so 100,000 backups never sit in memory at once.
    public func dryRun(_ body: ([Item]) throws -> Void) throws -> Result {
        try policy.validate()
        var st = stat()
        guard lstat(directory, &st) == 0 else { throw PGKeepError(.usage, "\(directory) does not exist") }
        let rest = try CatalogScan.eachDatabase(directory, database: database, cached: true) { try body(plan($0)) }
        var result = Result(broken: rest.broken, dryRun: true)
        result.leftovers = rest.leftovers
        result.temporary = removable(rest.temporary)
        result.orphans = rest.orphans
        return result
    }

    /// The temporary files a prune removes. Under the exclusive lock one is a dead run's: its pid
    /// (in its name) is gone (it was killed), or it is old (written on another host sharing the
    /// directory); and what runs left of the catalog cache.
    private func removable(_ temporary: [String]) -> [String] {
        let old: (String) -> Bool = { path in
            var s = stat()
            guard lstat(path, &s) == 0 else { return false }
            return now.timeIntervalSince1970 - Double(s.st_mtim.tv_sec) > safeAge
        }
        return temporary.filter {
            let name = ($0 as NSString).lastPathComponent
            return old($0) || name.hasPrefix(CatalogScan.tombstonePrefix) || Self.writerIsGone(name)
        } + CatalogCache.leftovers(in: directory, old: old)
    }

    /// Manifest to tombstone, fsync, data, tombstone.
    private func delete(_ entry: CatalogScan.Backup) throws {
        let folder = FileSystem.parent(of: entry.manifestPath)
        let tombstone = (folder as NSString).appendingPathComponent(
            CatalogScan.tombstonePrefix + (entry.manifestPath as NSString).lastPathComponent)
        if rename(entry.manifestPath, tombstone) != 0 {
            throw PGKeepError(.backup, "cannot delete \(entry.manifestPath): \(errnoText())")
        }
        try FileSystem.syncPath(folder)
        FileSystem.removeTree(entry.dataPath)
        _ = unlink(tombstone)
    }
}

/// Marks a backup as exempt from pruning (or not), in its manifest.
public enum Pinning {
    /// `path` is a backup's data file, directory or manifest.
    public static func set(_ given: String, pinned: Bool) throws -> String {
        try update(given) { $0.pinned = pinned }
    }

    /// Records that the shrink the guard found in this backup was intended.
    public static func accept(_ given: String) throws -> String {
        try update(given) { $0.shrinkAccepted = true }
    }

    /// Changes a backup's manifest under the directory lock, atomically.
    static func update(_ given: String, _ change: (inout Manifest) -> Void) throws -> String {
        let path = URL(fileURLWithPath: given).standardizedFileURL.path
        let manifestPath = path.hasSuffix(BackupName.manifestSuffix) ? path : path + BackupName.manifestSuffix
        guard FileManager.default.fileExists(atPath: manifestPath) else {
            throw PGKeepError(.usage, "\(path) is not a pgkeep backup (no \(manifestPath))")
        }
        let folder = FileSystem.parent(of: manifestPath)
        let lock = try DirectoryLock(directory: FileSystem.parent(of: folder))
        defer { _ = lock }
        var manifest = try Manifest.load(path: manifestPath)
        change(&manifest)
        // Written beside it and renamed over it: the manifest is never half-written.
        try FileSystem.replace(manifestPath, with: try manifest.encoded())
        try FileSystem.syncPath(folder)
        return manifestPath
    }
}
