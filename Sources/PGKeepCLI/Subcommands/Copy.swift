import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep copy`: a database to another server or a newer PostgreSQL, validated before it is done.
    struct Copy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Copy databases to another server (or a newer PostgreSQL) in parallel, then prove every row arrived.",
            discussion: """
                The source is read in one snapshot. The target database is built under a temporary name \
                (schema by pg_dump/pg_restore, table data by parallel COPY, then indexes and constraints with \
                pg_restore --jobs, then ANALYZE), compared with the source (row counts and checksums of every \
                table, sequences, large objects, schema) and only then renamed into place. A failed, \
                interrupted or mismatching copy is dropped. A bare name in --from or --to is a database on \
                the server the connection options (or PG* variables) name. With --from-compose or \
                --to-compose that side is a docker compose service (--from / --to then name a database in \
                it; the default is the service's POSTGRES_DB); this machine's pg_restore still reads the \
                definitions, so its client tools must be at least as new as both servers.
                """)

        @Option(help: ArgumentHelp("Source: a postgresql:// URI, conninfo or database name.", valueName: "source"))
        var from: String?
        @Option(help: ArgumentHelp("Target: a postgresql:// URI, conninfo or database name.", valueName: "target"))
        var to: String?
        @Option(
            name: .customLong("from-compose"),
            help: ArgumentHelp("The source runs in this docker compose service.", valueName: "service"))
        var fromCompose: String?
        @Option(
            name: .customLong("to-compose"),
            help: ArgumentHelp("The target runs in this docker compose service.", valueName: "service"))
        var toCompose: String?
        @Option(help: ArgumentHelp("A database to copy (repeatable; keeps its name).", valueName: "name"))
        var database: [String] = []
        @Flag(help: "Every database of the source (but postgres), with the roles and tablespaces.")
        var all = false
        @Option(help: ArgumentHelp("Parallel workers for data, indexes, ANALYZE and validation.", valueName: "n"))
        var jobs: Int = 2
        @Flag(name: .customLong("no-verify"), help: "Skip the validation (row counts, checksums, schema).")
        var noVerify = false
        @Flag(help: "Replace a target database that exists (needs --yes).")
        var clean = false
        @Flag(help: "Confirm --clean.")
        var yes = false
        @Option(help: ArgumentHelp("Create the target database with this locale.", valueName: "locale"))
        var locale: String?
        @Flag(name: .customLong("dry-run"), help: "List what would be copied, with sizes; change nothing.")
        var dryRun = false
        @OptionGroup var config: ConfigOptions
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var compose: ComposeProjectFlags
        @OptionGroup var output: OutputOptions
        @OptionGroup var bounds: BoundsOptions

        func validate() throws {
            if from == nil && fromCompose == nil { throw ValidationError("give the source: --from or --from-compose") }
            if to == nil && toCompose == nil { throw ValidationError("give the target: --to or --to-compose") }
            for (text, service, flag) in [(from, fromCompose, "from"), (to, toCompose, "to")] {
                if service != nil, let text, ConnectionSpec.isConnectionString(text) {
                    throw ValidationError(
                        "with --\(flag)-compose, --\(flag) names a database in the service, not a server")
                }
            }
            guard (1...64).contains(jobs) else { throw ValidationError("--jobs must be 1 to 64 (got \(jobs))") }
            if all && !database.isEmpty { throw ValidationError("give --database or --all, not both") }
        }

        func run() throws {
            try reportingErrors("a copy") {
                let settings = try config.settings()
                try settings.applyBounds(bounds.flags)
                try output.apply(settings)
                let tools = settings.tools(pgBinFlag: connection.pgBin)
                let sources = compose(fromCompose)
                let targets = compose(toCompose)
                let from = try side(self.from, service: sources, flag: "--from", settings: settings)
                let to = try side(self.to, service: targets, flag: "--to", settings: settings)
                let everything =
                    all
                    ? try DatabaseSide(
                        spec: from, database: "postgres", tools: tools, environment: settings.environment,
                        compose: sources
                    ).connectableDatabases() : nil
                let pairs = try Settings.copyPairs(from: from, to: to, databases: database, all: everything)
                let sides = { (pair: CopyPair) in
                    (
                        try DatabaseSide(
                            spec: from, database: pair.source, tools: tools, environment: settings.environment,
                            compose: sources),
                        try DatabaseSide(
                            spec: to.writing(), database: pair.target, tools: tools, environment: settings.environment,
                            compose: targets)
                    )
                }
                let report = CopyReport(json: output.json)
                if all && !dryRun {
                    let (a, b) = try sides(CopyPair(source: "postgres", target: "postgres"))
                    report.globals(try GlobalsCopy.run(source: a, target: b))
                }
                for pair in pairs {
                    let (a, b) = try sides(pair)
                    defer {
                        a.close()
                        b.close()
                    }
                    let job = CopyJob(source: a, target: b, tools: tools, options: options)
                    job.onStatus = { printInfo("pgkeep: " + $0) }
                    if dryRun { report.plan(try job.plan()) } else { try report.copy(job) }
                }
                report.finish()
                try exitIfFailed(report.failed)
            }
        }

        func compose(_ service: String?) -> DockerComposeOptions? {
            service.map { compose.options(service: $0) }
        }

        /// A side's connection: a server (URI, conninfo, or a database on the server the connection
        /// options name), or a database in a compose service.
        func side(_ text: String?, service: DockerComposeOptions?, flag: String, settings: Settings) throws
            -> ConnectionSpec
        {
            guard let service else {
                return try settings.copySide(text ?? "", flag: flag, connection: connection.flags)
            }
            if let text { return ConnectionSpec(parameters: ["dbname": text]) }
            // A source service with nothing named copies its POSTGRES_DB; a target keeps the source's names.
            guard flag == "--from", database.isEmpty, !all else { return ConnectionSpec() }
            let named = try DockerComposeService(
                options: service, spec: ConnectionSpec(), environment: settings.environment
            ).defaultDatabase()
            return ConnectionSpec(parameters: ["dbname": named])
        }

        var options: CopyOptions {
            var o = CopyOptions()
            o.jobs = jobs
            o.verify = !noVerify
            o.clean = clean
            o.yes = yes
            o.locale = locale
            return o
        }
    }
}
