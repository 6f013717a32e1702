import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep snapshot`: the pre-upgrade snapshot.
    struct Snapshot: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Before a major-version upgrade: back up every database and the globals, pin them, drill each, print the restore commands.",
            discussion: """
            Every file is pinned (prune never deletes it until `pgkeep unpin`) and its manifest records the \
            server version. Each database backup is restored into a scratch database and dropped again \
            (the drill) unless --no-drill. The commands to restore everything on the new server go to stdout.
            """)

        @Option(help: "A label stored in every manifest, e.g. pre-upgrade.")
        var label: String = "pre-upgrade"
        @Flag(name: .customLong("no-drill"), help: "Skip the restore drills.")
        var noDrill = false
        @Option(name: .customLong("drill-dbname"), help: ArgumentHelp("The server for drills, as a URI or conninfo (default: the server backed up).", valueName: "uri"))
        var drillDbname: String?
        @Option(name: .customLong("new-server"), help: ArgumentHelp("The new server's URI, filled into the printed commands.", valueName: "uri"))
        var newServer: String?
        @OptionGroup var location: DirectoryOptions
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var docker: DockerComposeFlags
        @OptionGroup var output: OutputOptions
        @OptionGroup var identity: IdentityOptions

        func run() throws {
            try reportingErrors {
                let env = ProcessInfo.processInfo.environment
                let config = try location.config(environment: env)
                try Settings.output(output, config: config)
                var options = BackupOptions(directory: try location.requireDirectory(environment: env, config: config))
                options.all = true
                options.pin = true
                options.label = label
                options.format = .custom
                options.compressLevel = config?.compressLevel ?? 6
                options.workers = config?.threads ?? ProcessInfo.processInfo.activeProcessorCount
                options.encryptTo = config?.recipients ?? []
                options.encryptPassphrase = try config?.passphraseFile.map(AgeTool.readPassphrase)
                let spec = try connection.spec(environment: env, config: config)
                let pgBin = Settings.pgBin(flag: connection.pgBin, environment: env, config: config)
                let compose = docker.options(config: config)
                if compose != nil && !noDrill && drillDbname == nil {
                    throw PGKeepError(.usage, "the drill restores through this machine's pg_restore and psql, which cannot reach a server inside docker compose by itself",
                                      hint: "give --drill-dbname URI (a server reachable from here, such as a published port), or --no-drill")
                }
                // Exact counts for the drill to compare (taken through libpq, so not inside compose).
                options.rowCounts = compose == nil
                let source = try makeDumpSource(spec: spec, pgBin: pgBin, docker: compose, environment: env)
                defer { source.close() }
                let job = BackupJob(options: options, source: source)
                let reporter = BackupReporter(quiet: Output.quiet, json: false)
                job.onProgress = reporter.progress
                job.onRecorded = reporter.recorded
                job.onFailure = reporter.failed
                let summary = try job.run()
                if !summary.failures.isEmpty {
                    printStderr("pgkeep: snapshot FAILED: \(summary.failures.map(\.database).joined(separator: ", ")) could not be backed up; do not upgrade until a snapshot succeeds. The files that were written are pinned; unpin them with pgkeep unpin.")
                    throw ExitCode(ExitCodes.failure)
                }
                if !noDrill {
                    var drill = spec
                    if let drillDbname {
                        drill = try ConnectionSpec.parse(drillDbname, source: "--drill-dbname")
                        Redaction.shared.register(drill.password)
                    }
                    let verifier = VerifyJob(tools: PostgresTools(pgBin: pgBin, environment: env), environment: env, drill: drill)
                    verifier.onStatus = { printInfo("pgkeep: " + $0) }
                    verifier.identity = identity.identity(config: config)
                    verifier.passphrase = try identity.passphrase(config: config)
                    for record in summary.records where record.manifest.format != .globals {
                        do {
                            let outcome = try verifier.verify(record.manifestPath)
                            printInfo("pgkeep: drill ok: \(record.manifest.database): " + (outcome.checks.last ?? ""))
                        } catch let error as PGKeepError {
                            printStderr("pgkeep: snapshot FAILED: the restore drill of \(record.manifest.database) failed; do not upgrade until it passes.\n" + error.description)
                            throw ExitCode(ExitCodes.failure)
                        }
                    }
                }
                // Name the server as libpq found it (PG* variables fill what the flags left out).
                var shown = spec
                for (key, variable) in [("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER")] where shown.parameters[key] == nil {
                    shown.parameters[key] = env[variable]
                }
                Console.out(UpgradeInstructions.text(records: summary.records, source: shown.displayURI(database: ""),
                                                     newServer: newServer, label: label))
            }
        }
    }
}
