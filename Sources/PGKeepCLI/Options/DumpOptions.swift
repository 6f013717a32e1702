import ArgumentParser
import PGKeep

/// What `pgkeep backup` dumps and how it writes it: format, compression, encryption and
/// pg_dump's selection flags.
struct DumpOptions: ParsableArguments {
    /// custom (default), plain or directory.
    @Option(
        name: [.customShort("F"), .long],
        help: "custom (default; .dump.gz, selectively restorable), plain (.sql.gz) or directory (.dir, with --jobs).")
    var format: BackupFormatArgument?

    /// gzip or zstd, with a level.
    @Option(
        name: .customLong("compress"),
        help: ArgumentHelp(
            "gzip[:LEVEL] (the default, gzip:6; .gz), zstd[:LEVEL] (zstd:3 when no level; .zst, faster and "
                + "smaller) or none.",
            valueName: "method"))
    var compress: String?

    /// gzip level.
    @Option(
        name: [.customShort("Z"), .customLong("compress-level")], parsing: .unconditional,
        help: "gzip level 0-9 (0 = none; default 6).")
    var compressLevel: Int?

    /// No compression at all.
    @Flag(name: .customLong("no-compress"), help: "Write the dump uncompressed.")
    var noCompress = false

    /// Parallel pg_dump jobs (directory format).
    @Option(
        name: [.customShort("j"), .long], parsing: .unconditional,
        help: "pg_dump parallel jobs (directory format only).")
    var jobs: Int?

    /// Compression threads.
    @Option(
        name: .customLong("threads"), parsing: .unconditional,
        help: ArgumentHelp("Compression threads (default: the number of cores).", valueName: "n"))
    var threads: Int?

    /// age recipients.
    @Option(
        name: .customLong("encrypt-to"),
        help: ArgumentHelp(
            "Encrypt with age to this recipient (age1... public key; repeatable), after compression.",
            valueName: "recipient"))
    var encryptTo: [String] = []

    /// A passphrase instead of recipients.
    @Option(
        name: .customLong("encrypt-passphrase-file"),
        help: ArgumentHelp(
            "Encrypt with age to the passphrase in this file (one line) instead of recipients.", valueName: "file"))
    var encryptPassphraseFile: String?

    /// Free text stored in the manifest.
    @Option(help: "A label stored in the manifest.")
    var label: String?

    /// Exact row counts in the manifest, for restore --verify.
    @Flag(
        name: .customLong("row-counts"),
        help: "Record exact per-table row counts, taken in pg_dump's snapshot, in the manifest.")
    var rowCounts = false
    @Flag(
        name: .customLong("fingerprint"),
        help: ArgumentHelp(
            "Record every table's row count and a checksum of its contents, in pg_dump's snapshot, for restore "
                + "--verify and drills to check row for row."))
    var fingerprint = false

    /// The shrink the guard may find is intended.
    @Flag(
        name: .customLong("accept-shrink"),
        help: "The database shrank on purpose: record a shrink the guard finds as intended, not as an anomaly.")
    var acceptShrink = false

    /// Dump only these tables.
    @Option(name: [.customShort("t"), .customLong("table")], help: "Dump only this table (repeatable).")
    var tables: [String] = []
    /// Leave these tables out.
    @Option(name: [.customShort("T"), .customLong("exclude-table")], help: "Leave out this table (repeatable).")
    var excludeTables: [String] = []
    /// Dump only these schemas.
    @Option(name: [.customShort("n"), .customLong("schema")], help: "Dump only this schema (repeatable).")
    var schemas: [String] = []
    /// Definitions only.
    @Flag(name: [.customShort("s"), .customLong("schema-only")], help: "Definitions only, no data.")
    var schemaOnly = false
    /// Data only.
    @Flag(name: [.customShort("a"), .customLong("data-only")], help: "Data only, no definitions.")
    var dataOnly = false
    /// No owners.
    @Flag(name: [.customShort("O"), .customLong("no-owner")], help: "Do not record object owners.")
    var noOwner = false
    /// No GRANT/REVOKE.
    @Flag(name: [.customShort("x"), .customLong("no-privileges")], help: "Do not record privileges (GRANT/REVOKE).")
    var noPrivileges = false

    func validate() throws {
        if let compressLevel, !(0...9).contains(compressLevel) {
            throw ValidationError("--compress-level must be 0 to 9 (got \(compressLevel))")
        }
        if [compress != nil, compressLevel != nil, noCompress].filter({ $0 }).count > 1 {
            throw ValidationError("give one of --compress, --compress-level and --no-compress")
        }
        if let compress {
            do { _ = try CompressionChoice.parse(compress) } catch let error as PGKeepError {
                throw ValidationError("--compress: " + error.message)
            }
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1 (got \(threads))") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1 (got \(jobs))") }
    }

    /// The flags as typed, for `Settings.backupOptions`.
    var flags: BackupFlags {
        var flags = BackupFlags()
        flags.format = format?.value
        if noCompress {
            flags.compression = CompressionChoice(codec: nil)
        } else if let compressLevel {
            flags.compression = CompressionChoice(codec: compressLevel == 0 ? nil : .gzip, level: compressLevel)
        } else {
            flags.compression = compress.flatMap { try? CompressionChoice.parse($0) }
        }
        flags.jobs = jobs
        flags.threads = threads
        flags.label = label
        flags.rowCounts = rowCounts ? true : nil
        flags.fingerprint = fingerprint ? true : nil
        flags.acceptShrink = acceptShrink
        flags.encryptTo = encryptTo
        flags.encryptPassphraseFile = encryptPassphraseFile
        flags.filters.tables = tables
        flags.filters.excludeTables = excludeTables
        flags.filters.schemas = schemas
        flags.filters.schemaOnly = schemaOnly
        flags.filters.dataOnly = dataOnly
        flags.filters.noOwner = noOwner
        flags.filters.noPrivileges = noPrivileges
        return flags
    }
}

/// `--format` values.
enum BackupFormatArgument: String, ExpressibleByArgument, CaseIterable {
    case custom, plain, directory
    var value: BackupFormat {
        switch self {
        case .custom: .custom
        case .plain: .plain
        case .directory: .directory
        }
    }
}
