import Foundation

/// What `pgkeep copy` does besides the databases it is given.
public struct CopyOptions: Sendable {
    public var jobs = 2
    /// Compare source (in the copy's snapshot) and target before the copy is called done.
    public var verify = true
    /// Replace a target database that exists (only with `yes`).
    public var clean = false
    public var yes = false
    /// CREATE DATABASE with this locale instead of the source's.
    public var locale: String?

    public init() {}
}

/// One database copied: what moved, how long each phase took, and the validation.
public struct CopyResult: Sendable {
    public var source: String
    public var target: String
    public var tables: Int
    public var rows: Int64
    public var bytes: Int64
    public var seconds: Double
    /// Seconds per phase: schema, data, post-data, analyze, verify.
    public var phases: [(String, Double)]
    public var comparison: Comparison?
    public var clients: String
}

/// `pgkeep copy`: one database from a source server into a new database on a target server.
///
/// The source is read in one snapshot, exported by a session pgkeep holds for the whole copy:
/// pg_dump takes the definitions in it (`--snapshot`, every table's data excluded), the data
/// workers import it (`SET TRANSACTION SNAPSHOT`), and the validation reads the source in it. The
/// target is built under a temporary name: the database as the source defines it, pre-data and
/// sequences and large objects by pg_restore, table data by parallel COPY, post-data by
/// `pg_restore -j`, then ANALYZE; it takes its real name only after the validation passed. A
/// failure or a signal drops it.
public final class CopyJob {
    let source: DatabaseSide
    let target: DatabaseSide
    let tools: PostgresTools
    let options: CopyOptions
    public var onStatus: (@Sendable (String) -> Void)?
    let progress = Locked(CopyProgress())
    /// The data phase's counters (the caller's progress line polls them).
    public var progressReader: @Sendable () -> CopyProgress {
        let progress = progress
        return { progress.current }
    }

    public init(source: DatabaseSide, target: DatabaseSide, tools: PostgresTools, options: CopyOptions) {
        self.source = source
        self.target = target
        self.tools = tools
        self.options = options
    }

    /// The name the target is built under: unique to this process, and findable by its prefix.
    var scratchName: String {
        let stem = String(target.database.utf8.prefix(30)).map { String($0) } ?? "db"
        return "pgkeep_copy_\(getpid())_" + stem.filter { $0.isLetter || $0.isNumber || $0 == "_" }.lowercased()
    }

    /// The copy as a watched phase: the stall bound applies, and the source server is watched
    /// for pgkeep's sessions (busy counts as progress; a lock wait names who holds the lock).
    public func run() throws -> CopyResult {
        // Both servers are watched: the source while it is read, the target while it loads and
        // builds its indexes (no byte moves then); the target's database may not exist yet, and
        // pg_stat_activity is the whole cluster's, so its maintenance database serves.
        let watch = source.endpoint.serverWatch(database: source.database)
        let targetWatch = target.endpoint.serverWatch(database: "postgres")
        watch?.start()
        targetWatch?.start()
        defer {
            watch?.stop()
            targetWatch?.stop()
        }
        do {
            return try Watchdog.shared.phase("copying \(source.display)", watched: watch != nil && targetWatch != nil) {
                try copy()
            }
        } catch {
            throw watch?.explain(
                error, what: "the copy of \(source.display)",
                outcome: "the unfinished copy was dropped; the source was only read") ?? error
        }
    }

    private func copy() throws -> CopyResult {
        let started = Date()
        var phases: [(String, Double)] = []
        func phase<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
            let t = Date()
            defer { phases.append((name, Date().timeIntervalSince(t))) }
            return try body()
        }
        let control = try source.connect()
        let versions = try (source.serverInfo(), target.serverInfo())
        try Self.requireClient(tools, servers: [versions.0, versions.1], environment: source.local.env.environment)
        onStatus?(tools.summary)
        try checkTarget()
        try control.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", what: "starting the source snapshot")
        guard let snapshot = try control.query("SELECT pg_catalog.pg_export_snapshot()").first?[0] ?? nil else {
            throw PGKeepError(.backup, "the source did not export a snapshot")
        }
        let tables = CopyCatalog.tables(try control.query(CopyCatalog.tablesSQL))
        try Self.lock(tables, on: control)
        let scratch = try makeScratchDirectory()
        defer { FileSystem.removeTree(scratch) }
        let archive = scratch + "/schema.dump"
        let building = scratchName
        var dropToken: Int?
        do {
            try phase("schema") {
                try source.run(
                    "pg_dump", database: source.database,
                    arguments: ["--format=custom", "--compress=0", "--no-sync", "--snapshot=\(snapshot)"]
                        + SessionBounds.current.pgDumpLockWait + tables.map { "--exclude-table-data=\($0.name)" },
                    output: archive, what: "pg_dump of the definitions of \(source.display)")
                dropToken = registerDrop(building)
                try createDatabase(building, archive: archive)
                try restore(archive, into: building, arguments: ["--section=pre-data", "--section=data"])
            }
            progress.withLock {
                $0 = CopyProgress()
                $0.tablesTotal = tables.count
                $0.heapTotal = tables.reduce(0) { $0 + $1.bytes }
            }
            onStatus?("copying \(tables.count) tables with \(options.jobs) workers")
            try phase("data") {
                let workers = max(1, min(options.jobs, tables.count))
                try CopyData(
                    sources: try source.sourceEnds(count: workers, snapshot: snapshot),
                    targets: try target.targetEnds(building, count: workers)
                ).run(tables, progress: progress)
            }
            try phase("post-data") {
                try restore(archive, into: building, arguments: ["--section=post-data", "--jobs=\(options.jobs)"])
            }
            try phase("analyze") {
                _ = try target.run(
                    "vacuumdb", database: building, arguments: ["--analyze-only", "--quiet", "--jobs=\(options.jobs)"],
                    what: "ANALYZE of the copy")
            }
            let comparison =
                try options.verify
                ? phase("verify") {
                    try validate(
                        building, snapshot: snapshot, archive: archive,
                        acrossVersions: versions.0.majorKey != versions.1.majorKey)
                } : nil
            if let comparison, !comparison.matches {
                throw CopyMismatch(comparison: comparison)
            }
            try control.execute("COMMIT", what: "releasing the source snapshot")
            try putInPlace(building)
            if let dropToken { Cancellation.shared.unregister(dropToken) }
            let moved = progress.current
            return CopyResult(
                source: source.display, target: target.display, tables: tables.count, rows: moved.rows,
                bytes: moved.bytes, seconds: Date().timeIntervalSince(started), phases: phases,
                comparison: comparison, clients: tools.summary)
        } catch {
            if let dropToken {
                Cancellation.shared.unregister(dropToken)
                let dropped = dropScratch(building, patience: 60)
                throw Self.explain(error, dropped: dropped, name: building)
            }
            throw error
        }
    }
}

/// A copy whose validation found differences: the copy was dropped, the comparison says why.
public struct CopyMismatch: Error, Sendable {
    public var comparison: Comparison
}

/// What `copy --dry-run` shows: the tables with their sizes, sequences and large objects.
public struct CopyPlan: Sendable {
    public var source: String
    public var target: String
    public var tables: [CopyTable]
    public var sequences: Int
    public var largeObjects: Int64
    public var targetExists: Bool
    public var clients: String
}

extension CopyJob {
    /// Reads what a copy would move, changing nothing.
    public func plan() throws -> CopyPlan {
        let conn = try source.connect()
        let tables = CopyCatalog.tables(try conn.query(CopyCatalog.tablesSQL))
        let sequences = try conn.query(CopyCatalog.sequencesSQL).count
        let largeObjects = Int64(try conn.query(CopyCatalog.largeObjectCountSQL).first?[0] ?? "0") ?? 0
        let exists = try targetExists()
        return CopyPlan(
            source: source.display, target: target.display, tables: tables, sequences: sequences,
            largeObjects: largeObjects, targetExists: exists, clients: tools.summary)
    }
}
