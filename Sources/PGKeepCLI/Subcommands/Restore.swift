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
        @OptionGroup var bounds: BoundsOptions
        @OptionGroup var identity: IdentityOptions
        @OptionGroup var remoteOptions: RemoteOptions
        @OptionGroup var what: RestoreSelectionOptions

        @Flag(help: "Restore the newest backup of --database from --dir.")
        var latest = false
        @Option(help: ArgumentHelp("With --latest: whose backup.", valueName: "name"))
        var database: String?

        func validate() throws {
            if remoteOptions.remotes.count > 1 {
                throw ValidationError("a restore reads one destination: give --remote once")
            }
            try validateBackupChoice(backup: backup, latest: latest, database: database, what: "the backup to restore")
        }

        func run() throws {
            try reportingErrors("a restore") {
                let settings = try location.settings()
                try settings.applyBounds(bounds.flags)
                try output.apply(settings)
                let options = what.options
                var request = RestoreSource.Request(
                    choice: latest ? .latest(database: database ?? "") : .path(backup ?? ""),
                    directory: { try settings.directory(flag: location.directory) },
                    remote: try settings.destinations(flags: remoteOptions.remotes, configured: false).first?.store,
                    streamable: !options.isPartial && options.singleTransaction
                        && settings.dockerCompose(flag: docker.flag) == nil,
                    identity: settings.identity(flag: identity.identity),
                    passphrase: try settings.passphrase(fileFlag: identity.passphraseFile),
                    environment: settings.environment)
                if remoteOptions.remotes.isEmpty {
                    request.fallbacks = try settings.destinations(flags: [], configured: true).map(\.store)
                }
                let source = try RestoreSource.open(request) { printInfo("pgkeep: " + $0) }
                defer { source.close() }
                let spec = try settings.connection(connection.flags)
                let (endpoint, target) = try settings.restoreEndpoint(
                    spec: spec, connection: connection.flags, pgBinFlag: connection.pgBin, composeFlag: docker.flag)
                let job = RestoreJob(input: source.input, options: options, database: target, endpoint: endpoint)
                if isatty(STDIN_FILENO) == 1 { job.confirm = Self.askToConfirm(database: target) }
                job.onStatus = { printInfo("pgkeep: " + $0) }
                let result = try job.run()
                RestoreReport(quiet: Output.quiet, json: output.json).show(result)
                try exitIfFailed(!result.verified)
            }
        }

        /// Asks on the terminal; the user types the database name to go on.
        static func askToConfirm(database: String) -> (String) -> Bool {
            { question in
                Console.err("\(question)\nType the database name (\(database)) to continue: ")
                return readLine()?.trimmingCharacters(in: .whitespaces) == database
            }
        }
    }
}
