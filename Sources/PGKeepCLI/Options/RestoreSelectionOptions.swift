import ArgumentParser
import PGKeep

/// What a restore writes and how: the target's creation, --clean, the objects chosen, --jobs.
struct RestoreSelectionOptions: ParsableArguments {
    /// Create the target database.
    @Flag(help: "Create the target database (UTF8, template0) if it does not exist.")
    var create = false
    /// Drop the backup's objects first.
    @Flag(help: "Drop the backup's objects in the target before recreating them (IF EXISTS).")
    var clean = false
    /// No confirmation.
    @Flag(help: "Do not ask for confirmation before a destructive restore.")
    var yes = false

    /// Only these tables.
    @Option(
        name: [.customShort("t"), .customLong("table")],
        help:
            "Restore only this table, with its indexes, constraints and triggers (repeatable; schema.table allowed).")
    var tables: [String] = []
    /// Only these schemas.
    @Option(name: [.customShort("n"), .customLong("schema")], help: "Restore only this schema (repeatable).")
    var schemas: [String] = []
    /// Definitions only.
    @Flag(name: [.customShort("s"), .customLong("schema-only")], help: "Definitions only, no data.")
    var schemaOnly = false
    /// Data only.
    @Flag(name: [.customShort("a"), .customLong("data-only")], help: "Data only, into existing tables.")
    var dataOnly = false
    /// No owners.
    @Flag(name: [.customShort("O"), .customLong("no-owner")], help: "Do not restore object owners.")
    var noOwner = false
    /// No privileges.
    @Flag(name: [.customShort("x"), .customLong("no-privileges")], help: "Do not restore privileges.")
    var noPrivileges = false
    /// pg_restore --jobs.
    @Option(
        name: [.customShort("j"), .long], parsing: .unconditional,
        help: "pg_restore parallel jobs (not one transaction).")
    var jobs: Int = 1
    /// Compare row counts with the manifest's.
    @Flag(help: "Compare row counts with those the backup recorded (backup --row-counts).")
    var verify = false

    func validate() throws {
        if jobs < 1 { throw ValidationError("--jobs must be at least 1 (got \(jobs))") }
    }

    var options: RestoreOptions {
        var options = RestoreOptions()
        options.create = create
        options.clean = clean
        options.yes = yes
        options.tables = tables
        options.schemas = schemas
        options.schemaOnly = schemaOnly
        options.dataOnly = dataOnly
        options.noOwner = noOwner
        options.noPrivileges = noPrivileges
        options.jobs = jobs
        options.verify = verify
        return options
    }
}
