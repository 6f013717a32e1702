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
                the server the connection options (or PG* variables) name.
                """)

        @Option(help: ArgumentHelp("Source: a postgresql:// URI, conninfo or database name.", valueName: "source"))
        var from: String
        @Option(help: ArgumentHelp("Target: a postgresql:// URI, conninfo or database name.", valueName: "target"))
        var to: String
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
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard (1...64).contains(jobs) else { throw ValidationError("--jobs must be 1 to 64 (got \(jobs))") }
            if all && !database.isEmpty { throw ValidationError("give --database or --all, not both") }
        }

        func run() throws {
            try reportingErrors("a copy") {
                let settings = try config.settings()
                try output.apply(settings)
                let from = try settings.copySide(self.from, flag: "--from", connection: connection.flags)
                let to = try settings.copySide(self.to, flag: "--to", connection: connection.flags)
                let tools = settings.tools(pgBinFlag: connection.pgBin)
                let everything =
                    all ? try PostgresConnection(spec: from, database: from.database).connectableDatabases() : nil
                let pairs = try Settings.copyPairs(from: from, to: to, databases: database, all: everything)
                let sides = { (pair: CopyPair) in
                    (
                        try DatabaseSide(
                            spec: from, database: pair.source, tools: tools, environment: settings.environment),
                        try DatabaseSide(
                            spec: to, database: pair.target, tools: tools, environment: settings.environment)
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
