import Foundation

/// Everything the status page shows (the daemon's `/` and `pgkeep report --html`), gathered once:
/// what `pgkeep status` says (the same check, so the page and `/healthz` never disagree with it),
/// and per server and database the backups found, retention's decisions, the last drill, each
/// remote destination's state, the next scheduled run and the last failures.
public struct StatusView: Sendable {
    public var generated: Date
    public var host: String = MonitorRequests.host
    /// What `pgkeep status` reports; nil when the check itself failed (`statusError` says why).
    public var report: StatusCheck.Report?
    public var statusError: String?
    public var scopes: [Scope] = []
    public var remotes: [RemoteState] = []
    /// Failed attempts (from each directory's attempt log) and the daemon's failed runs, newest first.
    public var failures: [Failure] = []
    /// `[schedule] cron` and its next time (the daemon's own, or computed from the config).
    public var schedule: String?
    public var nextRun: Date?
    /// The daemon's own state, when the daemon serves the page.
    public var daemon: DaemonState.Snapshot?

    /// Exactly when `pgkeep status` exits 0.
    public var ok: Bool { statusError == nil && (report?.ok ?? false) }

    /// One directory: the one server of `[connection]` (`server` nil) or a `[[server]]`.
    public struct Scope: Sendable {
        public var server: String?
        public var directory: String
        public var policy: String
        public var databases: [DatabaseView] = []
        public var problems: [String] = []
    }

    public struct DatabaseView: Sendable {
        public var name: String
        /// `status`'s verdict for the local copy (nil: not a database status expects).
        public var entry: StatusCheck.Entry?
        /// The newest backup's whole manifest and its file name.
        public var newest: Manifest?
        public var newestFile: String?
        /// The last 90 backups, oldest first (the chart).
        public var history: [Point] = []
        /// Every backup and what retention decides for it, newest first.
        public var retention: [Kept] = []
        /// The last drill of one of its backups, and the backup it drilled.
        public var drill: Manifest.Drill?
        public var drilledFile: String?
        public var lastAttempt: AttemptLog.Attempt?
    }

    public struct Point: Sendable {
        public var time: Date
        public var size: Int64
        public var duration: Double?
        public var anomalous: Bool
        public var pinned: Bool
    }

    public struct Kept: Sendable {
        public var file: String
        public var label: String?
        public var time: Date
        public var size: Int64
        public var keep: Bool
        public var reasons: [String]
    }

    public struct RemoteState: Sendable {
        public var server: String?
        public var name: String
        public var target: String
        public var backups = 0
        public var newest: Date?
        public var error: String?
    }

    public struct Failure: Sendable {
        public var time: Date
        /// "shop", "eu/shop", or "daemon run".
        public var what: String
        public var message: String
    }

    /// The chart's length.
    static let historyLength = 90
}

extension StatusView {
    /// Reads one directory into a scope: per database its backups, retention's decisions, the
    /// newest manifest and the last drill; `entries` are `status`'s verdicts for it.
    /// With `remoteOnly` the local directory is empty on purpose: the rows are the remote's entries.
    static func scope(
        server: String?, directory: String, policy: RetentionPolicy, entries: [StatusCheck.Entry],
        remoteOnly: Bool = false
    ) -> (Scope, [Failure]) {
        var scope = Scope(server: server, directory: directory, policy: policy.description)
        let scan: CatalogScan
        do { scan = try CatalogScan.scan(directory, cached: true) } catch {
            scope.problems.append((error as? PGKeepError)?.message ?? "\(error)")
            return (scope, [])
        }
        if !scan.broken.isEmpty { scope.problems.append("\(scan.broken.count) manifest(s) that cannot be read") }
        if !scan.orphans.isEmpty { scope.problems.append("\(scan.orphans.count) file(s) without a manifest") }
        let plan = PruneJob(directory: directory, policy: policy).plan(scan)
        let groups = Dictionary(grouping: plan) { databaseName($0.entry) }
        let attempts = AttemptLog.read(directory)
        var byName: [String: StatusCheck.Entry] = [:]
        for e in entries where e.location == "local" || (remoteOnly && byName[e.database] == nil) {
            byName[e.database] = e
        }
        let names = Set(groups.keys).union(byName.keys).union(attempts.keys).sorted()
        for name in names {
            var view = DatabaseView(name: name, entry: byName[name], lastAttempt: attempts[name])
            let mine = groups[name] ?? []  // newest first, the scan's order
            view.retention = mine.map {
                Kept(
                    file: ($0.entry.dataPath as NSString).lastPathComponent, label: $0.entry.manifest.label,
                    time: $0.entry.name.time,
                    size: $0.entry.manifest.size, keep: $0.decision.keep, reasons: $0.decision.reasons)
            }
            view.history = mine.prefix(historyLength).reversed().map {
                Point(
                    time: $0.entry.name.time, size: $0.entry.manifest.size, duration: $0.entry.manifest.durationSeconds,
                    anomalous: $0.entry.manifest.isAnomalous, pinned: $0.entry.manifest.pinned)
            }
            if let first = mine.first {
                view.newest = try? Manifest.load(path: first.entry.manifestPath)
                view.newestFile = (first.entry.dataPath as NSString).lastPathComponent
            }
            for item in mine.prefix(RestoreForecast.lookBack) {
                guard let drill = (try? Manifest.load(path: item.entry.manifestPath))?.drill else { continue }
                view.drill = drill
                view.drilledFile = (item.entry.dataPath as NSString).lastPathComponent
                break
            }
            scope.databases.append(view)
        }
        let failures = attempts.compactMap { name, attempt -> Failure? in
            guard !attempt.success, let time = BackupName.parseISO(attempt.time) else { return nil }
            return Failure(
                time: time, what: server.map { "\($0)/\(name)" } ?? name,
                message: attempt.error ?? "the backup failed (no message recorded)")
        }
        return (scope, failures)
    }

    static func databaseName(_ b: CatalogScan.Backup) -> String {
        b.name.format == .globals ? BackupName.globalsDatabase : b.name.database
    }
}
