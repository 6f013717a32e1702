import Foundation

/// Everything `pgkeep restore` needs, independent of the command-line parser.
public struct RestoreOptions: Sendable {
    /// Create the target database (UTF8, template0) when it does not exist.
    public var create = false
    /// Drop the archive's objects before recreating them (`--clean --if-exists`).
    public var clean = false
    /// Skip the confirmation a destructive restore asks for.
    public var yes = false
    public var tables: [String] = []
    public var schemas: [String] = []
    public var schemaOnly = false
    public var dataOnly = false
    public var noOwner = false
    public var noPrivileges = false
    /// pg_restore --jobs; more than 1 cannot be one transaction.
    public var jobs = 1
    /// Compare row counts with those recorded by `backup --row-counts`.
    public var verify = false

    public init() {}

    public var isPartial: Bool { !tables.isEmpty || !schemas.isEmpty || schemaOnly || dataOnly }
    public var singleTransaction: Bool { jobs == 1 }

    /// Checks that the options fit together and fit the backup's kind.
    public func validate(for kind: ArchiveKind) throws {
        guard jobs >= 1 else { throw PGKeepError(.usage, "--jobs must be at least 1") }
        if schemaOnly && dataOnly { throw PGKeepError(.usage, "--schema-only and --data-only cannot be used together") }
        if clean && dataOnly {
            throw PGKeepError(.usage, "--clean drops objects and --data-only restores none: use one or the other")
        }
        if !kind.isArchive {
            if isPartial {
                throw PGKeepError(
                    .usage,
                    "\(kind.description) backups cannot be restored in part: --table, --schema, --schema-only and "
                        + "--data-only need pg_restore, which reads only custom, directory and tar archives",
                    hint:
                        "restore the whole script into a scratch database (--create) and copy what you need, or take "
                        + "custom-format backups (the default)"
                )
            }
            if jobs > 1 {
                throw PGKeepError(
                    .usage, "--jobs needs a custom, directory or tar archive; psql runs a SQL script in one session")
            }
            if clean {
                throw PGKeepError(
                    .usage,
                    "--clean needs an archive: a SQL script made without pg_dump --clean has no DROP statements for "
                        + "pgkeep to run",
                    hint: "restore into a new database with --create, or drop and recreate the target first")
            }
        }
    }

    /// pg_restore's options for this restore (no connection, no input).
    var pgRestoreArguments: [String] {
        var args = ["--exit-on-error"]
        if singleTransaction { args.append("--single-transaction") } else { args.append("--jobs=\(jobs)") }
        if clean { args += ["--clean", "--if-exists"] }
        if schemaOnly { args.append("--schema-only") }
        // Data goes in table by table, not in foreign-key order: without this a data-only restore
        // into a schema with foreign keys fails (pg_restore's documented remedy; needs a superuser).
        if dataOnly { args += ["--data-only", "--disable-triggers"] }
        if noOwner { args.append("--no-owner") }
        if noPrivileges { args.append("--no-privileges") }
        args += schemas.map { "--schema=\($0)" }
        return args
    }
}

/// What a restore did.
public struct RestoreResult: Sendable {
    public var target: String
    public var input: RestoreInput
    public var checked: String
    /// Row counts of the restored tables in the target, by `schema.table`.
    public var rowCounts: [String: Int]
    /// Tables whose counts differ from the manifest's (with --verify): (table, expected, found).
    public var mismatches: [(table: String, expected: Int, found: Int?)]
    /// What differs from the backup's fingerprint (with --verify and a fingerprint), in words.
    public var differences: [String] = []
    public var duration: TimeInterval
    /// Seconds per phase: check, schema, data, post-data (or restore, when the script's phases
    /// were not seen: --jobs), verify.
    public var phases: [String: Double] = [:]
    /// Whether --verify found anything.
    public var verified: Bool { mismatches.isEmpty && differences.isEmpty }
}
