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
                compared through pg_dump --schema-only (see docs/upgrade.md). Exit 1 on any \
                difference. A bare name is a database on the server the connection options name; with \
                --a-compose / --b-compose, a database in that docker compose service.
                """)

        @Argument(help: ArgumentHelp("First database: URI, conninfo or name.", valueName: "a"))
        var source: String
        @Argument(help: ArgumentHelp("Second database: URI, conninfo or name.", valueName: "b"))
        var target: String
        @Option(help: ArgumentHelp("Tables compared at once.", valueName: "n"))
        var jobs: Int = 2
        @Flag(name: .customLong("no-schema"), help: "Compare the data only.")
        var noSchema = false
        @Option(
            name: .customLong("a-compose"),
            help: ArgumentHelp("The first database is in this docker compose service.", valueName: "service"))
        var aCompose: String?
        @Option(
            name: .customLong("b-compose"),
            help: ArgumentHelp("The second database is in this docker compose service.", valueName: "service"))
        var bCompose: String?
        @OptionGroup var config: ConfigOptions
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var compose: ComposeProjectFlags
        @OptionGroup var output: OutputOptions
        @OptionGroup var bounds: BoundsOptions

        func validate() throws {
            guard (1...64).contains(jobs) else { throw ValidationError("--jobs must be 1 to 64 (got \(jobs))") }
            for (text, service) in [(source, aCompose), (target, bCompose)] where service != nil {
                if ConnectionSpec.isConnectionString(text) {
                    throw ValidationError(
                        "with --a-compose / --b-compose, name a database in the service, not a server")
                }
            }
        }

        func side(_ text: String, service: String?, flag: String, settings: Settings, tools: PostgresTools) throws
            -> DatabaseSide
        {
            let spec =
                service != nil
                ? ConnectionSpec(parameters: ["dbname": text])
                : try settings.copySide(text, flag: flag, connection: connection.flags)
            guard let name = spec.database else {
                throw PGKeepError(.usage, "name a database on each side (postgresql://host/NAME or a name)")
            }
            return try DatabaseSide(
                spec: spec, database: name, tools: tools, environment: settings.environment,
                compose: service.map { compose.options(service: $0) })
        }

        func run() throws {
            try reportingErrors("a compare") {
                let settings = try config.settings()
                try settings.applyBounds(bounds.flags)
                try output.apply(settings)
                let tools = settings.tools(pgBinFlag: connection.pgBin)
                let sideA = try side(source, service: aCompose, flag: "a", settings: settings, tools: tools)
                let sideB = try side(target, service: bCompose, flag: "b", settings: settings, tools: tools)
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
