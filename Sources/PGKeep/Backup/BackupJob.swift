import Foundation

/// Takes backups: preflight before any file exists, then per database the dump pipeline into a
/// temporary file (`DumpPipeline`), verification from disk (`Verifier`), the commit that names
/// it (`BackupCommit`), and what follows (`AfterBackup`: upload, prune). A failure at any step
/// removes the temporary files and leaves every earlier backup untouched.
// Its properties are set before `run()` and only read during it; with --parallel the callbacks
// are called from the workers' threads, so what they touch must be locked (the reporters' is).
public final class BackupJob: @unchecked Sendable {
    public let options: BackupOptions
    public let source: DumpSource
    public var onProgress: (@Sendable (BackupProgress) -> Void)?
    public var onRecorded: ((BackupRecord) -> Void)?
    public var onFailure: ((String, PGKeepError) -> Void)?
    /// Called after each prune that `options.prune` asked for.
    public var onPruned: ((PruneJob.Result) -> Void)?
    /// A warning that changes no outcome (a shard's prune put off).
    public var onWarning: ((String) -> Void)?
    /// Called after a backup was copied to `options.remote` and checked there.
    public var onUploaded: ((BackupRecord, String) -> Void)?

    public init(options: BackupOptions, source: DumpSource) {
        self.options = options
        self.source = source
    }

    /// The outcome of a run: what was recorded and what failed (by database).
    public struct Summary: Sendable {
        public var records: [BackupRecord] = []
        public var failures: [(database: String, error: PGKeepError)] = []
        /// Databases left alone because a backup newer than `min_interval` exists.
        public var skipped: [String] = []
        /// What the report should say besides (a server another run held).
        public var notes: [String] = []

        public init() {}
    }

    /// The `--parallel` slots, when several jobs (servers) share them; nil: this job's own.
    public var slots: DumpSlots?
    /// Compression threads of each backup when several run at once (nil: `options.workers`).
    private var threads: Int?

    /// Backs up one database, a list of databases (`databases`), or with `all` every database
    /// and the globals. With several, a failed database does not stop the others; the summary
    /// lists it. A preflight failure of the only database (or, with `all`, of the server) throws.
    public func run() throws -> Summary {
        try options.validate()
        var summary = Summary()
        guard options.all || !options.databases.isEmpty else {
            let preflight = try source.preflight(database: options.database)
            let lock = try DirectoryLock(directory: options.directory)
            defer { _ = lock }
            let record = try backupDatabase(preflight.server.database, preflight: preflight)
            summary.records.append(record)
            onRecorded?(record)
            try afterBackup.run(record)
            return summary
        }
        var globalsPreflight: Preflight?
        var databases: [String]
        if options.all {
            // Like pg_dumpall: the maintenance database unless one was named (libpq's default,
            // the user's name, often has no database).
            globalsPreflight = try source.preflight(database: source.maintenanceDatabase)
            databases = try source.listDatabases()
        } else {
            databases = options.databases
        }
        var locks = try takeLocks()
        defer { withExtendedLifetime(locks) {} }
        let (todo, skipped) = plan(databases + (globalsPreflight == nil ? [] : [BackupName.globalsDatabase]))
        summary.skipped = skipped
        databases = todo.filter { $0 != BackupName.globalsDatabase }
        if options.fleet.parallel > 1, let sizes = try? source.databaseSizes() {
            // Largest first: the longest dump starts at once instead of last.
            databases.sort { (sizes[$0] ?? 0, $1) > (sizes[$1] ?? 0, $0) }
        }
        // Several backups at once share the compression threads.
        threads = options.fleet.threadsEach(of: options.workers)
        let shared = Locked(summary)
        let slots = self.slots ?? DumpSlots(options.fleet.parallel)
        let work = databases
        let each: @Sendable (Int, Int) throws -> Void = { [self] _, i in
            slots.holding {
                attempt(work[i], into: shared) {
                    let p = try source.preflight(database: work[i])
                    return try backupDatabase(work[i], preflight: p)
                }
            }
        }
        try Workers.each(work.count, workers: min(options.fleet.width, work.count), name: "pgkeep-backup", each)
        if let globalsPreflight, todo.contains(BackupName.globalsDatabase) {
            attempt(BackupName.globalsDatabase, into: shared) {
                try Watchdog.shared.phase("dumping the globals", watched: source.writesFilesHere) {
                    try backupGlobals(preflight: globalsPreflight)
                }
            }
        }
        if options.fleet.shard != nil {
            locks.removeAll()
            pruneAfterShard(shared.current.records)
        }
        return shared.current
    }

    private var afterBackup: AfterBackup {
        AfterBackup(
            options: options, onUploaded: onUploaded, onPruned: onPruned, localPrune: options.fleet.shard == nil)
    }

    /// One database of several: its backup, then what follows it; a failure is recorded, not
    /// thrown. A failed upload or prune counts against the database although its backup was recorded.
    private func attempt(_ database: String, into summary: Locked<Summary>, _ body: () throws -> BackupRecord) {
        do {
            let record = try body()
            summary.withLock { $0.records.append(record) }
            onRecorded?(record)
            try afterBackup.run(record)
        } catch {
            let e = error as? PGKeepError ?? PGKeepError(.backup, "\(error)")
            summary.withLock { $0.failures.append((database, e)) }
            onFailure?(database, e)
        }
    }

    /// pg_dump's options for the chosen format (no connection details: those are the source's).
    func dumpOptions() -> [String] {
        switch options.format {
        case .custom: return ["--format=custom", "--compress=0"] + options.filters.arguments
        case .plain, .globals: return ["--format=plain"] + options.filters.arguments
        case .directory:
            return ["--format=directory", "--jobs=\(options.jobs)", "--compress=\(options.compression.level)"]
                + options.filters.arguments
        }
    }

    /// One database's backup as a watched phase: the stall bound applies, the server is watched
    /// for pgkeep's sessions (busy counts as progress; a lock wait names who holds the lock).
    func backupDatabase(_ database: String, preflight: Preflight) throws -> BackupRecord {
        let watch = source.serverWatch(database: database)
        watch?.start()
        defer { watch?.stop() }
        do {
            return try Watchdog.shared.phase("dumping \"\(database)\"", watched: watch != nil) {
                try dumpDatabase(database, preflight: preflight)
            }
        } catch {
            throw watch?.explain(error, what: "the backup of \"\(database)\"", outcome: "no backup was recorded")
                ?? error
        }
    }

    /// pg_dump's `--lock-wait-timeout` (not part of the recorded options: it changes no output).
    var lockWaitArguments: [String] { SessionBounds.current.pgDumpLockWait }

    private func dumpDatabase(_ database: String, preflight: Preflight) throws -> BackupRecord {
        let started = Date()
        let name = BackupName(
            database: database, time: started, format: options.format, codec: options.codec,
            encrypted: options.encrypted)
        let facts = try SnapshotFacts(options: options, source: source, database: database)
        defer { facts.close() }
        try facts.start()
        if options.format == .directory {
            return try backupDirectory(
                name: name, preflight: preflight, started: started,
                extraArgs: facts.pgDumpArguments + lockWaitArguments, facts: facts)
        }
        let dumpArgs = dumpOptions()
        let command = try source.pgDump(
            database: database, options: dumpArgs + facts.pgDumpArguments + lockWaitArguments)
        return try backupStream(
            name: name, command: command, dumpOptions: dumpArgs, preflight: preflight, started: started,
            what: "pg_dump of database \"\(database)\"", facts: facts)
    }

    func backupGlobals(preflight: Preflight) throws -> BackupRecord {
        let started = Date()
        let name = BackupName(
            database: BackupName.globalsDatabase, time: started, format: .globals, codec: options.codec,
            encrypted: options.encrypted)
        let command = try source.pgDumpallGlobals()
        return try backupStream(
            name: name, command: command, dumpOptions: ["--globals-only"], preflight: preflight,
            started: started, what: "pg_dumpall --globals-only", facts: nil)
    }

    /// custom, plain and globals: the dump pipeline into a temporary file, then its verification.
    private func backupStream(
        name: BackupName, command: Command, dumpOptions: [String], preflight: Preflight,
        started: Date, what: String, facts: SnapshotFacts?
    ) throws -> BackupRecord {
        let database = name.database
        var pipeline = DumpPipeline(
            compression: options.compression, workers: threads ?? options.workers, recipients: options.encryptTo,
            passphrase: options.encryptPassphrase)
        pipeline.onProgress = { [onProgress] dumped, written in
            onProgress?(
                BackupProgress(
                    database: database, bytesDumped: dumped, bytesWritten: written,
                    elapsed: Date().timeIntervalSince(started)))
        }
        let sqlScript = name.format == .plain || name.format == .globals
        return try BackupCommit(directory: options.directory, name: name).write { temp in
            let out = try pipeline.run(command, what: what, into: temp, sqlScript: sqlScript)
            let mark = Date()
            let verification = try verify(temp, out, name: name, sqlScript: sqlScript)
            Trace.phase("verify", since: mark)
            var manifest = makeManifest(
                name: name, preflight: preflight, dumpOptions: dumpOptions, started: started, finished: Date(),
                size: out.size, sha256: out.sha256, uncompressed: out.uncompressedBytes, files: nil,
                verification: verification, facts: try facts?.finish(), appliedBy: "pgkeep")
            manifest.encryption = out.encryption
            return manifest
        }
    }

    /// The written file read back from disk. An encrypted file cannot be read back without the
    /// identity: its ciphertext is re-read and hashed, the plaintext was checked block by block
    /// as it was compressed.
    private func verify(
        _ temp: String, _ out: DumpPipeline.Output, name: BackupName, sqlScript: Bool
    ) throws -> Manifest.Verification {
        let encrypted = out.encryption != nil
        let listCommand = name.format == .custom && !encrypted ? try source.pgRestoreList(path: nil) : nil
        var verification = try Verifier.verifyStream(
            path: temp, sha256: out.sha256, size: out.size, stream: out.stream, listCommand: listCommand)
        if encrypted {
            guard AgeTool.isEncrypted(temp) else {
                throw PGKeepError(.backup, "verification failed: \(temp) does not start with age's header")
            }
            verification.gzipComplete = options.compressed ? true : nil
        }
        if sqlScript { verification.sqlTrailer = true }
        return verification
    }

    /// directory: pg_dump --format=directory --jobs N writes (and compresses) the files itself.
    private func backupDirectory(
        name: BackupName, preflight: Preflight, started: Date, extraArgs: [String], facts: SnapshotFacts
    ) throws -> BackupRecord {
        guard source.writesFilesHere else {
            throw PGKeepError(
                .usage,
                "--format directory is not available with --docker-compose (pg_dump would write inside the "
                    + "container); use --format custom"
            )
        }
        return try BackupCommit(directory: options.directory, name: name).write { temp in
            let dumpArgs = dumpOptions()
            let command = try source.pgDump(database: name.database, options: dumpArgs + extraArgs + ["--file=\(temp)"])
            let child = ChildProcess(command)
            try child.start()
            let result = child.wait()
            guard result.succeeded else {
                throw result.failure(
                    "pg_dump of database \"\(name.database)\" failed; no backup was recorded",
                    hint: DumpPipeline.hint(result.stderr))
            }
            // pg_dump created these under pgkeep's umask (077); make the modes exact all the same.
            _ = chmod(temp, 0o700)
            for file in (try? FileManager.default.contentsOfDirectory(atPath: temp)) ?? [] {
                _ = chmod((temp as NSString).appendingPathComponent(file), 0o600)
            }
            let check = try Verifier.verifyDirectory(
                path: temp, listCommand: try source.pgRestoreList(path: temp), workers: threads ?? options.workers)
            return makeManifest(
                name: name, preflight: preflight, dumpOptions: dumpArgs, started: started, finished: Date(),
                size: check.size, sha256: check.sha256, uncompressed: nil, files: check.files,
                verification: check.verification, facts: try facts.finish(), appliedBy: "pg_dump")
        }
    }

    private func makeManifest(
        name: BackupName, preflight: Preflight, dumpOptions: [String], started: Date, finished: Date,
        size: Int64, sha256: String, uncompressed: Int64?, files: [Manifest.FileEntry]?,
        verification: Manifest.Verification,
        facts: (rowCounts: [String: Int]?, fingerprint: Manifest.Fingerprint?)?, appliedBy: String
    ) -> Manifest {
        let docker = source.composeRecord
        let compression: Manifest.Compression =
            options.codec.map { .init(algorithm: $0.rawValue, level: options.compression.level, appliedBy: appliedBy) }
            ?? .init(algorithm: "none", level: nil, appliedBy: nil)
        var manifest = Manifest(
            database: name.database, file: name.fileName, format: name.format, compression: compression,
            size: size, sha256: sha256, uncompressedSize: uncompressed, files: files,
            startedAt: BackupName.isoString(started), finishedAt: BackupName.isoString(finished),
            durationSeconds: (finished.timeIntervalSince(started) * 1000).rounded() / 1000,
            label: options.label, serverVersion: preflight.server.version,
            serverVersionNum: preflight.server.versionNumber, pgDumpVersion: preflight.pgDumpVersion.string,
            pgDumpOptions: dumpOptions, source: source.displaySource, dockerCompose: docker,
            verification: verification, rowCounts: facts?.rowCounts)
        manifest.fingerprint = facts?.fingerprint
        manifest.pinned = options.pin
        manifest.pgDumpPath = preflight.pgDumpPath
        if name.format != .globals { options.shrinkGuard.mark(&manifest, directory: options.directory) }
        return manifest
    }
}
