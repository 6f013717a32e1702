import Foundation

/// How the databases of a run are spread: how many are dumped at once (`--parallel`, at most
/// `perServer` against one server), which of them this process owns (`--shard I/N`), and which
/// it leaves alone because they were backed up moments ago (`min_interval`, unless `force`).
public struct FleetOptions: Sendable, Equatable {
    /// Databases dumped at once, over every server of the run.
    public var parallel = 1
    /// At most this many of them against one server (nil: `parallel`).
    public var perServer: Int?
    /// This process's share of the (server, database) pairs.
    public var shard: Shard?
    /// A database with a backup newer than this is not backed up again (nil: always).
    public var minInterval: TimeInterval?
    /// `--force`: back up even within `minInterval`.
    public var force = false

    public init(
        parallel: Int = 1, perServer: Int? = nil, shard: Shard? = nil, minInterval: TimeInterval? = nil,
        force: Bool = false
    ) {
        self.parallel = parallel
        self.perServer = perServer
        self.shard = shard
        self.minInterval = minInterval
        self.force = force
    }

    /// Workers for one server: `parallel`, capped by `perServer`.
    public var width: Int { max(1, min(parallel, perServer ?? parallel)) }

    /// Compression threads for each of the backups running at once, so that `parallel` backups
    /// share `threads` instead of each starting as many.
    public func threadsEach(of threads: Int) -> Int { max(1, threads / max(1, parallel)) }

    public func validate() throws {
        guard (1...64).contains(parallel) else { throw PGKeepError(.usage, "--parallel must be 1 to 64") }
        if let perServer, !(1...64).contains(perServer) {
            throw PGKeepError(.usage, "[backup] per_server must be 1 to 64")
        }
    }
}

/// `--shard I/N`: the pairs whose stable hash modulo N is I. N processes with I = 0..N-1 cover
/// every (server, database) pair exactly once, whatever order each lists them in, and a pair
/// keeps its shard while databases come and go.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, count <= 10_000, (0..<count).contains(index) else {
            throw PGKeepError(
                .usage, "a shard is I/N with 0 <= I < N <= 10000 (got \(index)/\(count))",
                hint: "Kubernetes' Indexed Job sets JOB_COMPLETION_INDEX to 0..completions-1")
        }
        self.index = index
        self.count = count
    }

    /// `I/N` as typed.
    public static func parse(_ text: String, source: String = "--shard") throws -> Shard {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw PGKeepError(.usage, "\(source): expected I/N, e.g. 0/4 (got \"\(text)\")")
        }
        return try Shard(index: i, count: n)
    }

    /// The shard of a Kubernetes Indexed Job: `JOB_COMPLETION_INDEX` with `PGKEEP_SHARDS`; nil
    /// when PGKEEP_SHARDS is not set (an index alone belongs to some other job).
    public static func fromEnvironment(_ environment: [String: String]) throws -> Shard? {
        guard let n = environment["PGKEEP_SHARDS"], !n.isEmpty else { return nil }
        guard let count = Int(n) else { throw PGKeepError(.usage, "PGKEEP_SHARDS must be a number (got \"\(n)\")") }
        guard let i = environment["JOB_COMPLETION_INDEX"], let index = Int(i) else {
            throw PGKeepError(
                .usage, "PGKEEP_SHARDS=\(count) needs JOB_COMPLETION_INDEX (set by an Indexed Job) or --shard I/N")
        }
        return try Shard(index: index, count: count)
    }

    public func owns(server: String, database: String) -> Bool {
        Int(Self.hash(server + "\u{0}" + database) % UInt64(count)) == index
    }

    /// FNV-1a, 64 bits: stable across processes, machines and releases (Swift's `Hasher` is
    /// seeded per process).
    static func hash(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x100_0000_01b3
        }
        return h
    }

    public var description: String { "\(index)/\(count)" }
}

/// The slots of a run's `--parallel`: every backup of every server holds one while it dumps.
public final class DumpSlots: Sendable {
    private let semaphore: DispatchSemaphore

    public init(_ count: Int) { semaphore = DispatchSemaphore(value: max(1, count)) }

    public func holding<T>(_ body: () throws -> T) rethrows -> T {
        semaphore.wait()
        defer { semaphore.signal() }
        return try body()
    }
}

extension BackupJob {
    /// The databases of `databases` this process backs up: those of its shard, less those with a
    /// backup newer than `minInterval` (unless forced), which are returned as skipped.
    func plan(_ databases: [String], now: Date = Date()) -> (todo: [String], skipped: [String]) {
        let fleet = options.fleet
        let owned = databases.filter {
            !options.exclude.contains($0) && fleet.shard?.owns(server: options.serverName, database: $0) ?? true
        }
        guard let interval = fleet.minInterval, !fleet.force else { return (owned, []) }
        var todo: [String] = []
        var skipped: [String] = []
        for db in owned {
            let scan = try? CatalogScan.scan(options.directory, database: db)
            let newest = scan?.backups.map(\.name.time).max()
            if let newest, now.timeIntervalSince(newest) < interval {
                skipped.append(db)
            } else {
                todo.append(db)
            }
        }
        return (todo, skipped)
    }

    /// The directory's lock: exclusive; for a shard, shared with the other shards (each writes only
    /// the folders of its own databases) and exclusive against a second run of the same shard.
    func takeLocks() throws -> [DirectoryLock] {
        guard let shard = options.fleet.shard else { return [try DirectoryLock(directory: options.directory)] }
        try FileSystem.makePrivateDirectory(options.directory)
        return [
            try DirectoryLock(directory: options.directory, shared: true, writer: true),
            try DirectoryLock(
                directory: options.directory, file: ".pgkeep-shard-\(shard.index)-of-\(shard.count).lock"),
        ]
    }

    /// A shard's local prune, after its backups: readers and other shards hold the directory's
    /// lock shared, and a prune must not delete under a reader, so the shard lets its shared lock
    /// go and waits (up to the lock-wait bound) for the lock alone, then prunes the databases it
    /// backed up. If the lock does not come, the prune is left to the shard's next run.
    func pruneAfterShard(_ records: [BackupRecord]) {
        guard let policy = options.prune, !records.isEmpty else { return }
        let patience = SessionBounds.current.lockTimeout ?? 600
        let lock: DirectoryLock
        do {
            lock = try DirectoryLock(directory: options.directory, waiting: patience)
        } catch {
            onWarning?(
                "the backups are complete; their prune was put off: \((error as? PGKeepError)?.message ?? "\(error)")")
            return
        }
        defer { _ = lock }
        let databases = Set(
            records.map { $0.manifest.format == .globals ? BackupName.globalsDatabase : $0.manifest.database })
        for database in databases.sorted() {
            var job = PruneJob(directory: options.directory, database: database, policy: policy)
            job.lockHeld = true
            do { onPruned?(try job.run()) } catch {
                onWarning?("the prune of \(database) failed: \((error as? PGKeepError)?.message ?? "\(error)")")
            }
        }
    }
}
