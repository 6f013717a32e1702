import Foundation

/// `pgkeep run` over the config's `[[server]]` tables: every server at once, their databases
/// sharing the run's `--parallel` slots (at most `per_server` of them against one server), each
/// server into its own directory; one summary, with each failure named `server/database`.
public struct FleetRun: Sendable {
    public let settings: Settings
    public let servers: [ServerEntry]

    public init(settings: Settings, servers: [ServerEntry]) {
        self.settings = settings
        self.servers = servers
    }

    /// The servers' settings: each one's connection, databases, directory and retention.
    public var scoped: [(entry: ServerEntry, settings: Settings)] {
        servers.map { entry in
            (entry, Settings(environment: settings.environment, config: settings.config?.forServer(entry)))
        }
    }

    public func metricsScopes() throws -> [Metrics.Scope] {
        try scoped.map { Metrics.Scope(server: $0.entry.name, directory: try $0.settings.directory(flag: nil)) }
    }

    /// Runs every server; a server that cannot be reached at all is a failure of that server
    /// (`server/*`), not of the run. `backups` runs one server's backups with its narrowed settings
    /// and the shared slots; `record` gets each server's attempts for its directory.
    public func run(
        parallel: Int, record: @escaping @Sendable ([String: AttemptLog.Attempt], String) -> Void,
        backups: @escaping @Sendable (Settings, DumpSlots) throws -> BackupJob.Summary
    ) throws -> BackupJob.Summary {
        let slots = DumpSlots(parallel)
        let parts = scoped
        let merged = Locked(BackupJob.Summary())
        let locked = Locked<[PGKeepError]>([])
        try Workers.each(parts.count, workers: parts.count, name: "pgkeep-server") { _, i in
            let (entry, settings) = parts[i]
            let now = BackupName.isoString(Date())
            var attempts: [String: AttemptLog.Attempt] = [:]
            var summary: BackupJob.Summary
            do {
                summary = try backups(settings, slots)
            } catch let e as PGKeepError where e.kind == .locked {
                // Another run of this shard (or a prune) holds this server's directory: not a
                // failure of the server; said below.
                locked.withLock { $0.append(e) }
                return
            } catch {
                let e = error as? PGKeepError ?? PGKeepError(.backup, "\(error)")
                summary = BackupJob.Summary()
                summary.failures = [("*", e)]
            }
            for r in summary.records {
                attempts[r.manifest.database] = .init(
                    time: now, success: true, durationSeconds: r.manifest.durationSeconds)
            }
            for (db, error) in summary.failures where db != "*" {
                attempts[db] = .init(time: now, success: false, durationSeconds: nil, error: error.message)
            }
            if let dir = try? settings.directory(flag: nil) { record(attempts, dir) }
            merged.withLock {
                $0.records += summary.records
                $0.failures += summary.failures.map { ("\(entry.name)/\($0.database)", $0.error) }
                $0.skipped += summary.skipped.map { "\(entry.name)/\($0)" }
            }
        }
        // Every server held by another run: nothing was done, as a single directory's lock says (75).
        if let first = locked.current.first, locked.current.count == parts.count { throw first }
        var result = merged.current
        result.notes += locked.current.map { "left alone: \($0.message)" }
        return result
    }
}

extension FleetRun {
    /// What `status` expects of each server: its `databases` list, or with `"all"` every database
    /// the server has now (less `exclude`), so a database created since the last run shows as
    /// missing. A server that cannot be asked is itself an entry (`server/*`, stale).
    public func status(maxAge: TimeInterval, now: Date = Date()) throws -> StatusCheck.Report {
        var entries: [StatusCheck.Entry] = []
        for (entry, narrowed) in scoped {
            var expected: [String]?
            var unreachable: String?
            switch narrowed.config?.databases {
            case .list(let names)?: expected = names
            case .all?:
                do {
                    let spec = try narrowed.connection(ConnectionFlags())
                    let connection = try PostgresConnection(spec: spec, database: spec.database ?? "postgres")
                    expected = try connection.connectableDatabases().filter { !entry.exclude.contains($0) }
                } catch {
                    unreachable = (error as? PGKeepError)?.message ?? "\(error)"
                }
            case nil: expected = nil
            }
            var check = StatusCheck(
                directory: try narrowed.directory(flag: nil), databases: expected, maxAge: maxAge,
                remoteOnly: narrowed.remoteOnly(flag: false))
            check.forecast = narrowed.restoreForecast
            // Each server's destinations are its own folders on them (see `forServer`).
            let remotes = try narrowed.destinations(flags: [], configured: true).map(\.store)
            var found = try check.run(remotes: remotes, now: now).entries
            if let unreachable {
                found.append(StatusCheck.Entry(database: "*", location: "cannot list: \(unreachable)", fresh: false))
            }
            entries += found.map { e in
                var e = e
                e.database = "\(entry.name)/\(e.database)"
                return e
            }
        }
        return StatusCheck.Report(entries: entries, maxAge: maxAge)
    }
}

extension FleetRun {
    /// The fleet's metrics (every server's directory, a `server` label), as `status --format
    /// prometheus` prints them.
    public func metricsText() throws -> String { try Metrics.text(scopes: try metricsScopes()) }
}
