import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep restore`: a checked, all-or-nothing restore of a pgkeep backup or any pg_dump output.
    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a backup (pgkeep's or any pg_dump output) into a database, after checking it.",
            discussion: """
            The backup is checked before the target is touched (sha256 against its manifest, or a full \
            read). The restore stops at the first error and, without --jobs, runs in one transaction, so \
            a failed restore leaves the target as it was. --dbname names the target database.
            """)

        @Argument(help: ArgumentHelp("A backup file, directory or manifest; or use --latest.", valueName: "backup"))
        var backup: String?

        @OptionGroup var location: DirectoryOptions
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var docker: DockerComposeFlags
        @OptionGroup var output: OutputOptions
        @OptionGroup var identity: IdentityOptions
        @OptionGroup var remoteOptions: RemoteOptions

        @Flag(help: "Restore the newest backup of --database from --dir.")
        var latest = false
        @Option(help: ArgumentHelp("With --latest: whose backup.", valueName: "name"))
        var database: String?

        @Flag(help: "Create the target database (UTF8, template0) if it does not exist.")
        var create = false
        @Flag(help: "Drop the backup's objects in the target before recreating them (IF EXISTS).")
        var clean = false
        @Flag(help: "Do not ask for confirmation before a destructive restore.")
        var yes = false

        @Option(name: [.customShort("t"), .customLong("table")], help: "Restore only this table, with its indexes, constraints and triggers (repeatable; schema.table allowed).")
        var tables: [String] = []
        @Option(name: [.customShort("n"), .customLong("schema")], help: "Restore only this schema (repeatable).")
        var schemas: [String] = []
        @Flag(name: [.customShort("s"), .customLong("schema-only")], help: "Definitions only, no data.")
        var schemaOnly = false
        @Flag(name: [.customShort("a"), .customLong("data-only")], help: "Data only, into existing tables.")
        var dataOnly = false
        @Flag(name: [.customShort("O"), .customLong("no-owner")], help: "Do not restore object owners.")
        var noOwner = false
        @Flag(name: [.customShort("x"), .customLong("no-privileges")], help: "Do not restore privileges.")
        var noPrivileges = false
        @Option(name: [.customShort("j"), .long], help: "pg_restore parallel jobs (not one transaction).")
        var jobs: Int = 1
        @Flag(help: "Compare row counts with those the backup recorded (backup --row-counts).")
        var verify = false

        func validate() throws {
            if latest {
                guard backup == nil else { throw ValidationError("give a backup path or --latest, not both") }
                guard database != nil else { throw ValidationError("--latest needs --database NAME") }
            } else if backup == nil {
                throw ValidationError("name the backup to restore, or use --latest --database NAME --dir DIR")
            }
        }

        func run() throws {
            try reportingErrors {
                let env = ProcessInfo.processInfo.environment
                let config = try location.config(environment: env)
                try Settings.output(output, config: config)
                // Shared: prune cannot delete the backup while it is restored from a pgkeep
                // directory; other restores and verifies may run beside it.
                let path: String
                var lock: DirectoryLock?
                var download: String?
                var streamed: RestoreInput?
                defer { if let download { FileSystem.removeTree(download) } }
                if let remote = try remoteOptions.explicitRemote(environment: env) {
                    // From the bucket: the backup (newest of --database, or the one named, as a
                    // path under the remote) is downloaded into a private scratch directory.
                    let scan = try remote.scan(database: latest ? database : nil)
                    let chosen = latest ? scan.backups.first : scan.backups.first {
                        $0.dataPath == remote.url(backup!) || $0.manifestPath == remote.url(backup!) || $0.dataPath.hasSuffix("/" + backup!)
                    }
                    guard let chosen else {
                        throw PGKeepError(.usage, latest ? "no backup of database \"\(database!)\" on \(remote.target)"
                                                         : "no backup \(backup!) on \(remote.target) (pgkeep list --remote \(remote.target) shows them)")
                    }
                    // Whole, one-transaction restores of gzip backups read as they download;
                    // the rest (partial, --jobs, encrypted, directory, compose) from a local copy.
                    let manifest = try remote.manifest(of: chosen)
                    if tables.isEmpty && schemas.isEmpty && !schemaOnly && !dataOnly && jobs == 1 && docker.options(config: config) == nil,
                       let input = try? RestoreInput.streaming(remote.catCommand(chosen.dataPath), origin: chosen.dataPath, manifest: manifest) {
                        streamed = input
                        path = chosen.dataPath
                    } else {
                        printInfo("pgkeep: downloading \(chosen.dataPath)")
                        let fetched = try remote.fetch(chosen)
                        download = fetched.scratch
                        path = fetched.manifest
                    }
                } else if latest {
                    let dir = try location.requireDirectory(environment: env, config: config)
                    lock = try DirectoryLock(directory: dir, shared: true)
                    path = try CatalogScan.latest(in: dir, database: database!).manifestPath
                } else {
                    path = backup!
                    lock = try DirectoryLock.forBackup(at: path, shared: true)
                }
                defer { _ = lock }
                let input = try streamed ?? RestoreInput.open(path, identity: identity.identity(config: config),
                                                                passphrase: try identity.passphrase(config: config), environment: env)
                defer { input.removeScratch() }
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

                let spec = try connection.spec(environment: env, config: config)
                if config?.database != nil && connection.dbname == nil && env["PGDATABASE"] == nil && docker.service == nil {
                    // The config names the database backups come from; a restore target must be named.
                    throw PGKeepError(.usage, "name the target database with --dbname: a restore never defaults to the config file's database")
                }
                let endpoint: RestoreEndpoint
                let target: String
                if let compose = docker.options(config: config) {
                    let d = try DockerComposeRestoreEndpoint(options: compose, spec: spec, environment: env)
                    endpoint = d
                    target = try d.service.defaultDatabase()
                } else {
                    endpoint = try LocalRestoreEndpoint(spec: spec, tools: PostgresTools(pgBin: Settings.pgBin(flag: connection.pgBin, environment: env, config: config), environment: env), environment: env)
                    guard let name = spec.database ?? env["PGDATABASE"] else {
                        throw PGKeepError(.usage, "name the target database with --dbname (a name or a URI)")
                    }
                    target = name
                }
                let job = RestoreJob(input: input, options: options, database: target, endpoint: endpoint)
                if isatty(STDIN_FILENO) == 1 { job.confirm = askToConfirm(database: target) }
                job.onStatus = { printInfo("pgkeep: " + $0) }
                let result = try job.run()
                RestoreReport(quiet: Output.quiet, json: output.json).print(result)
                if !result.mismatches.isEmpty {
                    throw ExitCode(ExitCodes.failure)
                }
            }
        }

        /// Asks on the terminal; the user types the database name to go on.
        func askToConfirm(database: String) -> (String) -> Bool {
            { question in
                Console.err("\(question)\nType the database name (\(database)) to continue: ")
                return readLine()?.trimmingCharacters(in: .whitespaces) == database
            }
        }
    }
}
