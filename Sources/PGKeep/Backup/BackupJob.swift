import Foundation

/// Takes backups: preflight before any file exists, pg_dump streamed through pgkeep's gzip into
/// a temporary file, fsync, verification from disk, then the data and its manifest renamed into
/// place (never over an existing file) and the directory fsynced. A failure at any step removes
/// the temporary files and leaves every earlier backup untouched.
public final class BackupJob {
    public let options: BackupOptions
    public let source: DumpSource
    public var onProgress: ((BackupProgress) -> Void)?
    public var onRecorded: ((BackupRecord) -> Void)?
    public var onFailure: ((String, PGKeepError) -> Void)?
    /// Called after each prune that `options.prune` asked for.
    public var onPruned: ((PruneJob.Result) -> Void)?
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
    }

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
            try pruneAfter(record)
            return summary
        }
        var globalsPreflight: Preflight?
        let databases: [String]
        if options.all {
            // Like pg_dumpall: the maintenance database unless one was named (libpq's default,
            // the user's name, often has no database).
            let maintenance = (source as? LocalDumpSource).map { $0.spec.database ?? "postgres" }
            globalsPreflight = try source.preflight(database: maintenance)
            databases = try source.listDatabases()
        } else {
            databases = options.databases
        }
        let lock = try DirectoryLock(directory: options.directory)
        defer { _ = lock }
        for db in databases {
            attempt(db, into: &summary) {
                let p = try source.preflight(database: db)
                return try backupDatabase(db, preflight: p)
            }
        }
        if let globalsPreflight {
            attempt(BackupName.globalsDatabase, into: &summary) { try backupGlobals(preflight: globalsPreflight) }
        }
        return summary
    }

    /// One database of several: its backup, then its prune; a failure is recorded, not thrown.
    /// A prune failure counts against the database although its backup was recorded.
    private func attempt(_ database: String, into summary: inout Summary, _ body: () throws -> BackupRecord) {
        do {
            let record = try body()
            summary.records.append(record)
            onRecorded?(record)
            try pruneAfter(record)
        } catch let error as PGKeepError {
            summary.failures.append((database, error))
            onFailure?(database, error)
        } catch {
            let e = PGKeepError(.backup, "\(error)")
            summary.failures.append((database, e))
            onFailure?(database, e)
        }
    }

    /// After a backup was recorded (and so verified): its upload with `options.remote`, then with
    /// `options.prune` the prune of its database, locally and on the remote. A failed backup never
    /// gets here; a failed upload keeps the local backup and stops before any prune.
    private func pruneAfter(_ record: BackupRecord) throws {
        if let remote = options.remote {
            let url: String
            do {
                url = try remote.upload(record)
            } catch let e as PGKeepError {
                throw PGKeepError(.backup, "the local backup \(record.path) is complete and verified, but its upload failed: \(e.message)",
                                  command: e.command, stderrTail: e.stderrTail, hint: e.hint ?? "run the backup again, or copy it by hand")
            }
            onUploaded?(record, url)
            if options.remoteOnly {
                // The manifest first, as prune does: the local copy stops being a backup, then goes.
                FileSystem.removeTree(record.manifestPath)
                FileSystem.removeTree(record.path)
                try? FileSystem.syncPath((record.path as NSString).deletingLastPathComponent)
            }
        }
        guard let policy = options.prune else { return }
        let database = record.manifest.format == .globals ? BackupName.globalsDatabase : record.manifest.database
        var job = PruneJob(directory: options.directory, database: database, policy: policy)
        job.lockHeld = true
        onPruned?(try job.run())
        if let remote = options.remote {
            onPruned?(try remote.prune(database: database, policy: policy, dryRun: false))
        }
    }

    /// pg_dump's options for the chosen format (no connection details: those are the source's).
    func dumpOptions() -> [String] {
        switch options.format {
        case .custom: return ["--format=custom", "--compress=0"] + options.filters.arguments
        case .plain, .globals: return ["--format=plain"] + options.filters.arguments
        case .directory:
            return ["--format=directory", "--jobs=\(options.jobs)", "--compress=\(options.compressLevel)"] + options.filters.arguments
        }
    }

    func backupDatabase(_ database: String, preflight: Preflight) throws -> BackupRecord {
        let started = Date()
        let name = BackupName(database: database, time: started, format: options.format, compressed: options.compressed,
                              encrypted: options.encrypted)
        var counts: SnapshotCounts?
        var snapshotArgs: [String] = []
        if options.rowCounts {
            guard let local = source as? LocalDumpSource else {
                throw PGKeepError(.usage, "--row-counts is not available with --docker-compose yet")
            }
            counts = try SnapshotCounts(spec: local.spec, database: database)
            snapshotArgs = ["--snapshot=\(counts!.snapshot)"]
        }
        defer { counts?.close() }
        let rowCounts = try counts?.count()
        if options.format == .directory {
            return try backupDirectory(name: name, preflight: preflight, started: started, extraArgs: snapshotArgs, rowCounts: rowCounts)
        }
        let dumpArgs = dumpOptions()
        let command = try source.pgDump(database: database, options: dumpArgs + snapshotArgs)
        return try backupStream(name: name, command: command, dumpOptions: dumpArgs, preflight: preflight, started: started,
                                what: "pg_dump of database \"\(database)\"", rowCounts: rowCounts)
    }

    func backupGlobals(preflight: Preflight) throws -> BackupRecord {
        let started = Date()
        let name = BackupName(database: BackupName.globalsDatabase, time: started, format: .globals, compressed: options.compressed,
                              encrypted: options.encrypted)
        let command = try source.pgDumpallGlobals()
        return try backupStream(name: name, command: command, dumpOptions: ["--globals-only"], preflight: preflight,
                                started: started, what: "pg_dumpall --globals-only", rowCounts: nil)
    }

    private func folderPath(for name: BackupName) throws -> String {
        let topExisted = FileManager.default.fileExists(atPath: options.directory)
        try FileSystem.makePrivateDirectory(options.directory)
        let folder = (options.directory as NSString).appendingPathComponent(name.folder)
        let existed = FileManager.default.fileExists(atPath: folder)
        try FileSystem.makePrivateDirectory(folder)
        if !existed { try FileSystem.syncPath(options.directory) }
        if !topExisted { try? FileSystem.syncPath((options.directory as NSString).deletingLastPathComponent) }
        return folder
    }

    private func temporaryPath(in folder: String, for name: BackupName) -> String {
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return (folder as NSString).appendingPathComponent(".pgkeep-tmp-\(getpid())-\(random)-\(name.fileName)")
    }

    /// custom, plain and globals: pg_dump's stdout → gzip → temporary file.
    private func backupStream(name: BackupName, command: Command, dumpOptions: [String], preflight: Preflight,
                              started: Date, what: String, rowCounts: [String: Int]?) throws -> BackupRecord {
        return try writeAndCommit(name) { temp in
            let fd = try FileSystem.createPrivateFile(temp)
            var fdOpen = true
            defer { if fdOpen { close(fd) } }
            let fileSink = HashingSink(fd: fd, path: temp)
            // With --encrypt-to: gzip → age → (hashed here) → the file. The sink hashes the
            // plaintext stream; a second sink hashes the ciphertext age writes.
            let encryptor = try startEncryptor(into: fileSink)
            let sink = encryptor.map { HashingSink(fd: $0.input, path: "the input of age (encrypting \(temp))") } ?? fileSink
            let child = ChildProcess(command, stdout: .pipe)
            do {
                try child.start()
            } catch {
                encryptor?.abandon()
                throw error
            }

            let database = name.database
            let progress: (Int64, Int64) -> Void = { [onProgress] dumped, written in
                onProgress?(BackupProgress(database: database, bytesDumped: dumped, bytesWritten: written,
                                           elapsed: Date().timeIntervalSince(started)))
            }
            let uncompressed: Int64
            let tail: [UInt8]
            var trailer: Verifier.GzipTrailer?
            do {
                if options.compressed {
                    let r = try ParallelGzipWriter(level: Int32(options.compressLevel), workers: options.workers)
                        .compress(from: child.stdoutDescriptor, what: "the output of \(what)", to: sink, progress: progress)
                    (uncompressed, tail) = (r.uncompressedBytes, r.tail)
                    trailer = Verifier.GzipTrailer(crc32: r.crc32, uncompressedBytes: r.uncompressedBytes)
                } else {
                    (uncompressed, tail) = try copyStream(from: child.stdoutDescriptor, to: sink, what: "the output of \(what)", progress: progress)
                }
            } catch {
                // Our side failed (disk full, write error): stop pg_dump before it blocks on the pipe.
                child.closeStdout()
                child.terminate(grace: 2)
                child.wait()
                throw encryptor?.abandon() ?? error
            }
            child.closeStdout()
            let result = child.wait()
            if !result.succeeded { encryptor?.abandon() }
            var mark = Trace.phase("dump+compress", since: started)
            guard result.succeeded else {
                throw result.failure("\(what) failed; no backup was recorded", hint: dumpHint(result.stderr))
            }
            guard uncompressed > 0 else {
                throw PGKeepError(.backup, "\(what) produced no output; no backup was recorded", command: command.description)
            }
            if name.format == .plain || name.format == .globals {
                try Verifier.checkSQLTrailer(tail, path: temp)
            }
            var encryption: Manifest.Encryption?
            if let encryptor {
                try encryptor.finish()
                encryption = Manifest.Encryption(recipients: options.encryptTo, passphrase: options.encryptPassphrase != nil ? true : nil,
                                                 plaintextSize: sink.bytesWritten, plaintextSha256: sink.finalizeHex())
            }
            try FileSystem.sync(fd, path: temp)
            close(fd)
            fdOpen = false
            mark = Trace.phase("fsync", since: mark)
            let sha = fileSink.finalizeHex()
            let size = fileSink.bytesWritten

            // An encrypted file cannot be read back without the identity: its ciphertext is
            // re-read and hashed, the plaintext was checked block by block as it was compressed.
            let listCommand = name.format == .custom && encryption == nil ? try source.pgRestoreList(path: nil) : nil
            var verification = try Verifier.verifyStream(path: temp, sha256: sha, size: size, gzip: encryption == nil ? trailer : nil,
                                                         listCommand: listCommand)
            if encryption != nil {
                guard AgeTool.isEncrypted(temp) else {
                    throw PGKeepError(.backup, "verification failed: \(temp) does not start with age's header")
                }
                verification.gzipComplete = options.compressed ? true : nil
            }
            if name.format == .plain || name.format == .globals { verification.sqlTrailer = true }
            Trace.phase("verify", since: mark)
            let finished = Date()
            var manifest = makeManifest(name: name, preflight: preflight, dumpOptions: dumpOptions, started: started,
                                        finished: finished, size: size, sha256: sha, uncompressed: uncompressed,
                                        files: nil, verification: verification, rowCounts: rowCounts, compression: options.compressed
                                            ? .init(algorithm: "gzip", level: options.compressLevel, appliedBy: "pgkeep")
                                            : .init(algorithm: "none", level: nil, appliedBy: nil))
            manifest.encryption = encryption
            return manifest
        }
    }

    /// `age --encrypt` between the compressor and the file (nil without encryption).
    private func startEncryptor(into file: HashingSink) throws -> Encryptor? {
        guard options.encrypted else { return nil }
        let env = ProcessInfo.processInfo.environment
        return try AgeTool(environment: env).startEncrypting(recipients: options.encryptTo, passphrase: options.encryptPassphrase,
                                                             into: file, environment: env)
    }

    /// directory: pg_dump --format=directory --jobs N writes (and compresses) the files itself.
    private func backupDirectory(name: BackupName, preflight: Preflight, started: Date, extraArgs: [String],
                                 rowCounts: [String: Int]?) throws -> BackupRecord {
        guard source is LocalDumpSource else {
            throw PGKeepError(.usage, "--format directory is not available with --docker-compose (pg_dump would write inside the container); use --format custom")
        }
        return try writeAndCommit(name) { temp in
            let dumpArgs = dumpOptions()
            let command = try source.pgDump(database: name.database, options: dumpArgs + extraArgs + ["--file=\(temp)"])
            let child = ChildProcess(command)
            try child.start()
            let result = child.wait()
            guard result.succeeded else {
                throw result.failure("pg_dump of database \"\(name.database)\" failed; no backup was recorded", hint: dumpHint(result.stderr))
            }
            // pg_dump created these under pgkeep's umask (077); make the modes exact all the same.
            _ = chmod(temp, 0o700)
            for file in (try? FileManager.default.contentsOfDirectory(atPath: temp)) ?? [] {
                _ = chmod((temp as NSString).appendingPathComponent(file), 0o600)
            }
            let check = try Verifier.verifyDirectory(path: temp, listCommand: try source.pgRestoreList(path: temp), workers: options.workers)
            return makeManifest(name: name, preflight: preflight, dumpOptions: dumpArgs, started: started, finished: Date(),
                                size: check.size, sha256: check.sha256, uncompressed: nil, files: check.files,
                                verification: check.verification, rowCounts: rowCounts, compression: options.compressed
                                    ? .init(algorithm: "gzip", level: options.compressLevel, appliedBy: "pg_dump")
                                    : .init(algorithm: "none", level: nil, appliedBy: nil))
        }
    }

    /// Gives `body` a temporary path in the backup's folder (removed on failure and on Ctrl-C);
    /// `body` writes and verifies there and returns the manifest; then the backup is committed.
    private func writeAndCommit(_ name: BackupName, _ body: (String) throws -> Manifest) throws -> BackupRecord {
        let folder = try folderPath(for: name)
        let temp = temporaryPath(in: folder, for: name)
        let token = Cancellation.shared.register(path: temp)
        defer { Cancellation.shared.unregister(token) }
        do {
            let manifest = try body(temp)
            let mark = Date()
            let record = try commit(temp: temp, name: name, folder: folder, manifest: manifest)
            Trace.phase("commit", since: mark)
            return record
        } catch {
            FileSystem.removeTree(temp)
            throw error
        }
    }

    private func makeManifest(name: BackupName, preflight: Preflight, dumpOptions: [String], started: Date, finished: Date,
                              size: Int64, sha256: String, uncompressed: Int64?, files: [Manifest.FileEntry]?,
                              verification: Manifest.Verification, rowCounts: [String: Int]?,
                              compression: Manifest.Compression) -> Manifest {
        var docker: Manifest.DockerCompose?
        if let d = source as? DockerComposeDumpSource {
            docker = .init(service: d.options.service, composeCommand: d.options.composeCommand)
        }
        var manifest = Manifest(database: name.database, file: name.fileName, format: name.format, compression: compression,
                        size: size, sha256: sha256, uncompressedSize: uncompressed, files: files,
                        startedAt: BackupName.isoString(started), finishedAt: BackupName.isoString(finished),
                        durationSeconds: (finished.timeIntervalSince(started) * 1000).rounded() / 1000,
                        label: options.label, serverVersion: preflight.server.version,
                        serverVersionNum: preflight.server.versionNumber, pgDumpVersion: preflight.pgDumpVersion.string,
                        pgDumpOptions: dumpOptions, source: source.displaySource, dockerCompose: docker,
                        verification: verification, rowCounts: rowCounts)
        manifest.pinned = options.pin
        return manifest
    }

    /// Renames the verified data into place under the first free name (adding -1, -2, ... within
    /// the same second), then the manifest beside it, then fsyncs the folder. The manifest is
    /// written to a temporary file first, so that a crash between the two renames leaves a marker
    /// by which prune knows the data file as pgkeep's leftover. Until the manifest is in place the
    /// data file is not a backup, and it is removed if anything fails.
    private func commit(temp: String, name: BackupName, folder: String, manifest: Manifest) throws -> BackupRecord {
        var final = name
        var manifest = manifest
        var dataPath = ""
        var manifestTemp = ""
        var manifestToken: Int?
        defer { if let manifestToken { Cancellation.shared.unregister(manifestToken) } }
        while true {
            dataPath = (folder as NSString).appendingPathComponent(final.fileName)
            let manifestPath = (folder as NSString).appendingPathComponent(final.manifestName)
            if !FileManager.default.fileExists(atPath: manifestPath) && !Self.stemTaken(final, in: folder) {
                manifest.file = final.fileName
                manifestTemp = temporaryPath(in: folder, for: final) + BackupName.manifestSuffix
                if let manifestToken { Cancellation.shared.unregister(manifestToken) }
                manifestToken = Cancellation.shared.register(path: manifestTemp)
                try FileSystem.writePrivateFile(manifestTemp, data: try manifest.encoded())
                if try FileSystem.moveNoReplace(temp, to: dataPath) { break }
                FileSystem.removeTree(manifestTemp)
            }
            final.sequence += 1
            if final.sequence > 1000 {
                throw PGKeepError(.backup, "cannot find a free name for \(name.fileName) in \(folder)")
            }
        }
        let dataToken = Cancellation.shared.register(path: dataPath)
        defer { Cancellation.shared.unregister(dataToken) }
        do {
            let manifestPath = (folder as NSString).appendingPathComponent(final.manifestName)
            guard try FileSystem.moveNoReplace(manifestTemp, to: manifestPath) else {
                throw PGKeepError(.backup, "\(manifestPath) appeared while the backup was written; not overwriting it")
            }
            try FileSystem.syncPath(folder)
            return BackupRecord(path: dataPath, manifestPath: manifestPath, manifest: manifest)
        } catch {
            FileSystem.removeTree(dataPath)
            FileSystem.removeTree(manifestTemp)
            throw error
        }
    }

    /// Whether a backup of any format already has this name's stem (database, second, sequence):
    /// a second backup in the same second gets the next sequence even in another format, so that
    /// the newest backup is never ambiguous (`restore --latest`, retention).
    static func stemTaken(_ name: BackupName, in folder: String) -> Bool {
        for format in BackupFormat.allCases {
            for compressed in [true, false] {
                for encrypted in [false, true] {
                    let other = BackupName(database: name.database, time: name.time, sequence: name.sequence,
                                           format: format, compressed: compressed, encrypted: encrypted)
                    if FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent(other.fileName)) { return true }
                }
            }
        }
        return false
    }

    /// A next step for common pg_dump failures.
    func dumpHint(_ stderr: String) -> String? {
        if stderr.contains("permission denied") {
            return "connect as a role that can read every object (often the database owner or a superuser), or leave the object out with --exclude-table/--schema"
        }
        if stderr.contains("server version") && stderr.contains("mismatch") {
            return "use a pg_dump at least as new as the server (--pg-bin)"
        }
        if stderr.contains("No space left") {
            return "the disk is full"
        }
        return nil
    }
}
