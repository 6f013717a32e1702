import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep recover`: rows deleted or changed by mistake, brought back from a backup into the
    /// live table.
    struct Recover: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bring back one table's deleted and changed rows from a backup into the live table.",
            discussion: """
                The backup's rows of --table are loaded into a scratch schema of the live database (--dbname) and \
                compared with the live table by its primary key (or --key): rows deleted since the backup, changed, \
                added. --sql FILE writes the statements that bring back the deleted and changed rows; --apply runs \
                them in one transaction. The live table is not touched otherwise, and the scratch schema never \
                stays. Exit 0; 64 when the table, its key or the backup does not fit; 1 if something failed.
                """)

        @Argument(help: ArgumentHelp("A backup (custom or directory archive); or use --latest.", valueName: "backup"))
        var backup: String?

        @OptionGroup var location: DirectoryOptions
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var bounds: BoundsOptions
        @OptionGroup var identity: IdentityOptions

        @Flag(help: "Recover from the newest backup of --database in --dir.")
        var latest = false
        @Option(help: ArgumentHelp("With --latest: whose backup.", valueName: "name"))
        var database: String?
        @Option(
            name: [.customShort("t"), .customLong("table")],
            help: ArgumentHelp("The table whose rows to bring back (schema.table or a name).", valueName: "table"))
        var table: String
        @Option(
            help: ArgumentHelp(
                "Columns that identify a row, comma-separated (default: the primary key).", valueName: "columns"))
        var key: String?
        @Option(help: ArgumentHelp("Write the SQL that brings the rows back to this file.", valueName: "file"))
        var sql: String?
        @Flag(help: "Bring the rows back now, in one transaction.")
        var apply = false

        func validate() throws {
            try validateBackupChoice(backup: backup, latest: latest, database: database, what: "the backup")
        }

        func run() throws {
            try reportingErrors("a recovery") {
                let settings = try location.settings()
                try settings.applyBounds(bounds.flags)
                try output.apply(settings)
                let request = RestoreSource.Request(
                    choice: latest ? .latest(database: database ?? "") : .path(backup ?? ""),
                    directory: { try settings.directory(flag: location.directory) }, remote: nil, streamable: false,
                    identity: settings.identity(flag: identity.identity),
                    passphrase: try settings.passphrase(fileFlag: identity.passphraseFile),
                    environment: settings.environment)
                let source = try RestoreSource.open(request) { printInfo("pgkeep: " + $0) }
                defer { source.close() }
                let spec = try settings.connection(connection.flags)
                let (endpoint, target) = try settings.restoreEndpoint(
                    spec: spec, connection: connection.flags, pgBinFlag: connection.pgBin, composeFlag: nil)
                guard let local = endpoint as? LocalRestoreEndpoint else {
                    throw PGKeepError(.usage, "recover is not available with --docker-compose")
                }
                var options = RecoverJob.Options(table: table)
                options.key = key.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
                options.sqlFile = sql
                options.apply = apply
                let job = RecoverJob(input: source.input, options: options, database: target, endpoint: local)
                job.onStatus = { printInfo("pgkeep: " + $0) }
                RecoverReport(json: output.json).show(try job.run())
            }
        }
    }
}
