import Foundation

/// pg_dump options that select what is dumped; passed through unchanged.
public struct DumpFilters: Sendable, Equatable {
    public var tables: [String] = []
    public var excludeTables: [String] = []
    public var schemas: [String] = []
    public var schemaOnly = false
    public var dataOnly = false
    public var noOwner = false
    public var noPrivileges = false

    public init() {}

    public var arguments: [String] {
        tables.map { "--table=\($0)" } + excludeTables.map { "--exclude-table=\($0)" }
            + schemas.map { "--schema=\($0)" }
            + (schemaOnly ? ["--schema-only"] : []) + (dataOnly ? ["--data-only"] : [])
            + (noOwner ? ["--no-owner"] : []) + (noPrivileges ? ["--no-privileges"] : [])
    }
}

/// Everything `pgkeep backup` needs, independent of the command-line parser.
public struct BackupOptions: Sendable {
    /// The backup directory; each database gets a folder inside it.
    public var directory: String
    public var format: BackupFormat = .custom
    /// gzip (the default, level 6), zstd, or none.
    public var compression = CompressionChoice(codec: .gzip)
    /// pg_dump --jobs, directory format only.
    public var jobs: Int = 1
    public var label: String?
    /// Every database that accepts connections, plus the globals.
    public var all = false
    /// The database to dump when not --all (nil: the connection's database).
    public var database: String?
    /// Several databases, each on its own (a config file's `databases`); ignored with `all`.
    public var databases: [String] = []
    public var filters = DumpFilters()
    /// Record exact per-table row counts, taken in pg_dump's snapshot, in the manifest.
    public var rowCounts = false
    /// Record the fingerprint (counts and checksums of every table, sequences, large objects),
    /// taken in pg_dump's snapshot while it dumps.
    public var fingerprint = false
    /// After a verified backup, prune that database with this policy.
    public var prune: RetentionPolicy?
    /// age recipients (public keys): encrypt each file after compression. Empty: no encryption.
    public var encryptTo: [String] = []
    /// Encrypt with this passphrase instead (age's scrypt mode); read from a file by the caller.
    public var encryptPassphrase: String?
    public var encrypted: Bool { !encryptTo.isEmpty || encryptPassphrase != nil }
    /// Copy each verified backup to every one of these (and, with `prune`, prune each too).
    public var destinations: [Destination] = []
    /// Remove the local copy once every destination has it checked.
    public var remoteOnly = false
    /// Write the manifests pinned (snapshot): prune never deletes them until unpinned.
    public var pin = false
    /// Compares each backup with the normal ones before it (see `ShrinkGuard`).
    public var shrinkGuard = ShrinkGuard()
    /// Compression threads.
    public var workers = ProcessInfo.processInfo.activeProcessorCount
    /// Databases at once, the shard, `min_interval` (see `FleetOptions`).
    public var fleet = FleetOptions()
    /// The server's name in a shard's hash: a `[[server]]` table's name, "" for the one server.
    public var serverName = ""
    /// Databases `all` leaves out (a server's `exclude`).
    public var exclude: [String] = []

    public init(directory: String) {
        self.directory = directory
    }

    public var codec: Codec? { compression.codec }
    public var compressed: Bool { codec != nil }

    /// Checks that the options fit together; the messages name the flags.
    public func validate() throws {
        if let codec, !codec.levels.contains(compression.level) {
            throw PGKeepError(
                .usage,
                "the \(codec.rawValue) level must be \(codec.levels.lowerBound) to \(codec.levels.upperBound) "
                    + "(got \(compression.level))")
        }
        if format == .directory, let codec, !codec.pgDumpDirectory {
            throw PGKeepError(
                .usage,
                "--compress zstd needs --format custom or plain: pg_dump compresses a directory backup's files "
                    + "itself, with gzip")
        }
        guard jobs >= 1 else { throw PGKeepError(.usage, "--jobs must be at least 1") }
        try fleet.validate()
        if jobs > 1 && format != .directory {
            throw PGKeepError(.usage, "--jobs needs --format directory: pg_dump writes in parallel only to a directory")
        }
        if format == .globals {
            throw PGKeepError(.usage, "globals are backed up with --all, not chosen as a --format")
        }
        if filters.schemaOnly && filters.dataOnly {
            throw PGKeepError(.usage, "--schema-only and --data-only cannot be used together")
        }
        try prune?.validate()
        if remoteOnly && destinations.isEmpty {
            throw PGKeepError(.usage, "--remote-only needs --remote REMOTE:bucket/prefix")
        }
        if !encryptTo.isEmpty && encryptPassphrase != nil {
            throw PGKeepError(
                .usage,
                "--encrypt-to and --encrypt-passphrase-file cannot be used together (age encrypts to recipients or to "
                    + "a passphrase)"
            )
        }
        if encrypted {
            for r in encryptTo { try AgeTool.checkRecipient(r) }
            if format == .directory {
                throw PGKeepError(
                    .usage,
                    "--encrypt-to needs --format custom or plain: pg_dump writes a directory backup's files itself")
            }
        }
        if (all || databases.count > 1) && (!filters.tables.isEmpty || !filters.schemas.isEmpty) {
            throw PGKeepError(
                .usage,
                "--table and --schema select objects of one database; they cannot be used with --all or several "
                    + "databases"
            )
        }
    }
}

/// One recorded backup: its data path, manifest path and manifest.
public struct BackupRecord: Sendable {
    public var path: String
    public var manifestPath: String
    public var manifest: Manifest
}

/// Progress of a running dump, for the live line.
public struct BackupProgress: Sendable {
    public var database: String
    public var bytesDumped: Int64
    public var bytesWritten: Int64
    public var elapsed: TimeInterval
}
