import Foundation

/// What a backup command was told on its command line; nil (or empty) means "not given", so
/// that the config file and then the defaults decide. `run` and `snapshot` fill in the few
/// values they fix themselves (snapshot: custom format, pinned, no upload).
public struct BackupFlags: Sendable {
    public var format: BackupFormat?
    /// `--compress`, `-Z N` (gzip N; 0: none) or `--no-compress`.
    public var compression: CompressionChoice?
    public var jobs: Int?
    public var threads: Int?
    public var label: String?
    /// true: `--row-counts`; nil: the config's `row_counts`; false: never (snapshot inside compose).
    public var rowCounts: Bool?
    /// true: `--fingerprint` (snapshot: always, outside compose); nil: the config's `fingerprint`.
    public var fingerprint: Bool?
    public var encryptTo: [String] = []
    public var encryptPassphraseFile: String?
    /// Whether the backup may be uploaded at all (false for snapshot).
    public var upload = true
    /// `--remote` (repeatable): destination names or targets; none: the config's.
    public var remotes: [String] = []
    /// The `--keep-*` flags as typed: a destination's own retention sits between them and the file's.
    public var retention = RetentionFlags()
    public var remoteOnly = false
    /// Prune each database after its verified backup with this policy.
    public var prune: RetentionPolicy?
    public var filters = DumpFilters()
    public var all = false
    public var pin = false
    /// `--accept-shrink`: a shrink the guard finds is intended.
    public var acceptShrink = false
    /// `--parallel N`: databases at once (nil: the config's, else 1).
    public var parallel: Int?
    /// `run` only: its shard (`--shard`, else an Indexed Job's environment) and `min_interval`.
    public var fleetRun = false
    public var shard: Shard?
    /// `--force`: back up even what `min_interval` would leave alone.
    public var force = false

    public init() {}
}

extension Settings {
    /// The one builder of `BackupOptions`, for backup, run and snapshot: each flag over the
    /// config file over the default.
    public func backupOptions(_ flags: BackupFlags, directoryFlag: String?) throws -> BackupOptions {
        var options = BackupOptions(directory: try directory(flag: directoryFlag))
        options.format = flags.format ?? config?.format ?? .custom
        options.compression = flags.compression ?? config?.compression ?? CompressionChoice(codec: .gzip)
        options.jobs = flags.jobs ?? config?.jobs ?? 1
        options.fleet = FleetOptions(
            parallel: flags.parallel ?? config?.parallel ?? 1, perServer: config?.perServer,
            shard: flags.fleetRun ? try flags.shard ?? Shard.fromEnvironment(environment) : nil,
            minInterval: flags.fleetRun ? config?.minInterval : nil, force: flags.force)
        options.serverName = config?.serverName ?? ""
        options.exclude = config?.exclude ?? []
        options.workers = flags.threads ?? config?.threads ?? ProcessInfo.processInfo.activeProcessorCount
        options.label = flags.label ?? config?.label
        options.rowCounts = flags.rowCounts ?? config?.rowCounts ?? false
        options.fingerprint = flags.fingerprint ?? config?.fingerprint ?? false
        let flagsEncrypt = !flags.encryptTo.isEmpty || flags.encryptPassphraseFile != nil
        options.encryptTo = flagsEncrypt ? flags.encryptTo : (config?.recipients ?? [])
        let passphraseFile = flagsEncrypt ? flags.encryptPassphraseFile : config?.passphraseFile
        options.encryptPassphrase = try passphraseFile.map(AgeTool.readPassphrase)
        if flags.upload {
            options.destinations = try destinations(flags: flags.remotes, configured: true, retention: flags.retention)
            options.remoteOnly =
                remoteOnly(flag: flags.remoteOnly) || options.destinations.contains { $0.config.remoteOnly }
        }
        options.prune = flags.prune
        options.filters = flags.filters
        options.all = flags.all
        options.pin = flags.pin
        options.shrinkGuard = ShrinkGuard(
            minSizeRatio: config?.minSizeRatio ?? 0.5, maxRowLoss: config?.maxRowLoss ?? 0.5, accept: flags.acceptShrink
        )
        return options
    }

    /// The databases of `pgkeep run`: `--all` (or the config's `databases = "all"`), else the
    /// `--database` names, else the config's list, else the connection's database; with none
    /// of these the server's default database (a compose service's POSTGRES_DB).
    public func selectDatabases(
        _ names: [String], all: Bool, connection spec: ConnectionSpec, into options: inout BackupOptions
    ) {
        if all || (names.isEmpty && config?.databases == .all) {
            options.all = true
        } else if !names.isEmpty {
            options.databases = names
        } else if case .list(let listed)? = config?.databases {
            options.databases = listed
        } else if let db = spec.database {
            options.databases = [db]
        }
    }

    /// pg_dump on this machine, or inside a docker compose service.
    public func dumpSource(spec: ConnectionSpec, pgBinFlag: String?, docker: DockerComposeOptions?) throws -> DumpSource
    {
        if let docker {
            return try DockerComposeDumpSource(options: docker, spec: spec, environment: environment)
        }
        return try LocalDumpSource(spec: spec, tools: tools(pgBinFlag: pgBinFlag), environment: environment)
    }
}
