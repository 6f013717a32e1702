import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep verify`: read backups to the end again, optionally restore them in a drill.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check backups again: sha256, the whole stream read to its end, and optionally a restore drill.",
            discussion: """
            --restore-drill restores each backup into a scratch database with a unique name (on the \
            same server, or on --drill-dbname), compares row counts with the manifest when it has them, \
            and drops the scratch database whether the drill passed or not.
            """)

        @Argument(help: ArgumentHelp("Backups (file, directory or manifest).", valueName: "backup"))
        var backups: [String] = []
        @Flag(help: "Every backup in --dir.")
        var all = false
        @Option(help: ArgumentHelp("With --all: only this database.", valueName: "name"))
        var database: String?
        @Flag(name: .customLong("restore-drill"), help: "Also restore each backup into a scratch database, compare row counts, drop it.")
        var restoreDrill = false
        @Option(name: .customLong("drill-dbname"), help: ArgumentHelp("The server for drills, as a URI or conninfo (default: the connection options).", valueName: "uri"))
        var drillDbname: String?
        @OptionGroup var location: DirectoryOptions
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var identity: IdentityOptions

        func validate() throws {
            if all && !backups.isEmpty { throw ValidationError("give backups or --all, not both") }
            if !all && backups.isEmpty { throw ValidationError("name the backups to verify, or use --all --dir DIR") }
        }

        func run() throws {
            try reportingErrors {
                let env = ProcessInfo.processInfo.environment
                let config = try location.config(environment: env)
                try Settings.output(output, config: config)
                var paths = backups
                var lock: DirectoryLock?
                if all {
                    let dir = try location.requireDirectory(environment: env, config: config)
                    // Shared: a prune cannot delete what is being verified; other readers may run.
                    lock = try DirectoryLock(directory: dir, shared: true)
                    paths = try CatalogScan.scan(dir, database: database).backups.map(\.manifestPath)
                    if paths.isEmpty { throw PGKeepError(.usage, "no backups in \(dir)" + (database.map { " for database \"\($0)\"" } ?? "")) }
                } else if let first = paths.first {
                    lock = try DirectoryLock.forBackup(at: first, shared: true)
                }
                defer { _ = lock }
                var drill: ConnectionSpec?
                if restoreDrill {
                    if let drillDbname {
                        drill = try ConnectionSpec.parse(drillDbname, source: "--drill-dbname")
                        Redaction.shared.register(drill?.password)
                    } else {
                        drill = try connection.spec(environment: env, config: config)
                    }
                }
                let job = VerifyJob(tools: PostgresTools(pgBin: Settings.pgBin(flag: connection.pgBin, environment: env, config: config), environment: env),
                                    environment: env, drill: drill)
                job.onStatus = { printInfo("pgkeep: " + $0) }
                job.identity = identity.identity(config: config)
                job.passphrase = try identity.passphrase(config: config)
                var failures: [(String, PGKeepError)] = []
                var rows: [[String: Any]] = []
                for path in paths {
                    do {
                        let outcome = try job.verify(path)
                        printInfo("pgkeep: ok: \(outcome.path): " + outcome.checks.joined(separator: "; "))
                        rows.append(["path": outcome.path, "ok": true, "checks": outcome.checks])
                    } catch let error as PGKeepError {
                        if Cancellation.shared.signalReceived != nil { throw error }
                        failures.append((path, error))
                        printStderr("pgkeep: FAILED: \(path): " + error.description)
                        rows.append(["path": path, "ok": false, "error": Redaction.shared.apply(error.message)])
                    }
                }
                if output.json {
                    let object: [String: Any] = ["backups": rows, "ok": failures.isEmpty]
                    printJSON(object)
                }
                if !failures.isEmpty {
                    printStderr("pgkeep: verify: \(failures.count) of \(paths.count) backups FAILED; the others are fine")
                    throw ExitCode(ExitCodes.failure)
                }
                printInfo("pgkeep: verify: all \(paths.count) backups are fine")
            }
        }
    }

    /// `pgkeep status`: fresh backups for every database, for monitoring.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Exit 0 only if every database has a verified backup newer than --max-age (for monitoring and healthchecks).",
            discussion: "The databases are the config file's list, else every database found in --dir. Exit 1 names the stale ones.")

        @Option(name: .customLong("max-age"), help: ArgumentHelp("How old the newest backup may be, e.g. 26h, 90m, 2d (default: the config's max_age, else 26h).", valueName: "age"))
        var maxAge: String?
        @Option(name: .customLong("database"), help: ArgumentHelp("A database that must be fresh (repeatable; default: the config's, else all found).", valueName: "name"))
        var databases: [String] = []
        @Flag(help: "Print JSON on stdout.")
        var json = false
        @OptionGroup var location: DirectoryOptions
        @OptionGroup var remoteOptions: RemoteOptions

        func run() throws {
            try reportingErrors {
                let env = ProcessInfo.processInfo.environment
                let config = try location.config(environment: env)
                let dir = try location.requireDirectory(environment: env, config: config)
                let age = try maxAge.map(DurationText.parse) ?? config?.maxAge ?? 26 * 3600
                var wanted: [String]? = databases.isEmpty ? nil : databases
                if wanted == nil, case .list(let names)? = config?.databases { wanted = names }
                let remote = try remoteOptions.remote(config: config, environment: env)
                let report = try StatusCheck(directory: dir, databases: wanted, maxAge: age).run(remote: remote)
                print(report, directory: dir)
                if !report.ok { throw ExitCode(ExitCodes.failure) }
            }
        }

        func print(_ report: StatusCheck.Report, directory: String) {
            if json {
                let rows: [[String: Any]] = report.entries.map { e in
                    var row: [String: Any] = ["database": e.database, "where": e.location, "fresh": e.fresh]
                    row["newest"] = e.newestTime.map(BackupName.isoString) ?? NSNull()
                    row["path"] = e.newestPath ?? NSNull()
                    row["age_seconds"] = e.age.map { Int($0) } ?? NSNull()
                    return row
                }
                let object: [String: Any] = ["databases": rows, "ok": report.ok, "max_age_seconds": Int(report.maxAge)]
                printJSON(object)
            }
            if report.entries.isEmpty {
                printStderr("pgkeep: status: STALE: no backups at all in \(directory)")
                return
            }
            if !json {
                RetentionReport.printTable(["DATABASE", "WHERE", "NEWEST", "AGE", "STATUS"], report.entries.map { e in
                    [e.database, e.location, e.newestTime.map(BackupName.isoString) ?? "-", e.age.map(DurationText.format) ?? "-",
                     e.fresh ? "ok" : (e.newestTime == nil ? "STALE (no backup)" : "STALE")]
                })
            }
            let stale = report.entries.filter { !$0.fresh }.map { $0.location == "local" ? $0.database : "\($0.database) (\($0.location))" }
            if stale.isEmpty {
                printStderr("pgkeep: status: ok: every database has a backup newer than \(DurationText.format(report.maxAge))")
            } else {
                printStderr("pgkeep: status: STALE: \(stale.joined(separator: ", ")) has no verified backup newer than \(DurationText.format(report.maxAge))")
            }
        }
    }
}
