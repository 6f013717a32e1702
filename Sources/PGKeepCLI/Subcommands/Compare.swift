import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep compare A B`: do two databases hold the same data and schema?
    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare two databases: rows and checksums of every table, sequences, large objects, schema.",
            discussion: """
                Each side is read in one snapshot of its own. Checksums are computed in the servers (no rows \
                are shipped to pgkeep) and agree across PostgreSQL versions for the same data. The schema is \
                compared through pg_dump --schema-only (see README, "Migrating and upgrading"). Exit 1 on any \
                difference. A bare name is a database on the server the connection options name.
                """)

        @Argument(help: ArgumentHelp("First database: URI, conninfo or name.", valueName: "a"))
        var source: String
        @Argument(help: ArgumentHelp("Second database: URI, conninfo or name.", valueName: "b"))
        var target: String
        @Option(help: ArgumentHelp("Tables compared at once.", valueName: "n"))
        var jobs: Int = 2
        @Flag(name: .customLong("no-schema"), help: "Compare the data only.")
        var noSchema = false
        @OptionGroup var config: ConfigOptions
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard (1...64).contains(jobs) else { throw ValidationError("--jobs must be 1 to 64 (got \(jobs))") }
        }

        func run() throws {
            try reportingErrors("a compare") {
                let settings = try config.settings()
                try output.apply(settings)
                let a = try settings.copySide(source, flag: "a", connection: connection.flags)
                let b = try settings.copySide(target, flag: "b", connection: connection.flags)
                let tools = settings.tools(pgBinFlag: connection.pgBin)
                guard let nameA = a.database, let nameB = b.database else {
                    throw PGKeepError(.usage, "name a database on each side (postgresql://host/NAME or a name)")
                }
                let sideA = try DatabaseSide(spec: a, database: nameA, tools: tools, environment: settings.environment)
                let sideB = try DatabaseSide(spec: b, database: nameB, tools: tools, environment: settings.environment)
                defer {
                    sideA.close()
                    sideB.close()
                }
                let comparison = try CompareJob(
                    source: sideA, target: sideB, tools: tools, jobs: jobs, schema: !noSchema
                ).run()
                let report = CopyReport(json: output.json)
                report.comparison(comparison)
                report.finish()
                try exitIfFailed(!comparison.matches)
            }
        }
    }
}
