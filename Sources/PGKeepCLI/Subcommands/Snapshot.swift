import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep snapshot`: the pre-upgrade snapshot.
    struct Snapshot: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Before a major-version upgrade: back up every database and the globals, pin them, drill each, print "
                + "the restore commands.",
            discussion: """
                Every file is pinned (prune never deletes it until `pgkeep unpin`) and its manifest records the \
                server version. Each database backup is restored into a scratch database and dropped again \
                (the drill) unless --no-drill. The commands to restore everything on the new server go to stdout.
                """)

        @Option(help: "A label stored in every manifest, e.g. pre-upgrade.")
        var label: String = "pre-upgrade"
        @Flag(name: .customLong("no-drill"), help: "Skip the restore drills.")
        var noDrill = false
        @Option(
            name: .customLong("drill-dbname"),
            help: ArgumentHelp(
                "The server for drills, as a URI or conninfo (default: the server backed up).", valueName: "uri"))
        var drillDbname: String?
        @Option(
            name: .customLong("new-server"),
            help: ArgumentHelp("The new server's URI, filled into the printed commands.", valueName: "uri"))
        var newServer: String?
        @OptionGroup var location: DirectoryOptions
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var docker: DockerComposeFlags
        @OptionGroup var output: OutputOptions
        @OptionGroup var bounds: BoundsOptions
        @OptionGroup var identity: IdentityOptions
        @OptionGroup var monitoring: MonitorOptions

        func run() throws {
            try reportingErrors("a snapshot") {
                let settings = try location.settings()
                try settings.applyBounds(bounds.flags)
                try output.apply(settings)
                let compose = settings.dockerCompose(flag: docker.flag)
                let flags = SnapshotJob.backupFlags(label: label, inCompose: compose != nil)
                let options = try settings.backupOptions(flags, directoryFlag: location.directory)
                let spec = try settings.connection(connection.flags)
                try SnapshotJob.checkDrill(
                    inCompose: compose != nil, drill: !noDrill, drillServerGiven: drillDbname != nil)
                let source = try settings.dumpSource(spec: spec, pgBinFlag: connection.pgBin, docker: compose)
                defer { source.close() }
                let backup = BackupJob(options: options, source: source)
                BackupReporter(quiet: Output.quiet, json: false).attach(to: backup, prunes: false)
                let drill =
                    noDrill ? nil : try drillDbname.map { try settings.server(uri: $0, flag: "--drill-dbname") } ?? spec
                let verifier = VerifyJob(
                    tools: settings.tools(pgBinFlag: connection.pgBin), environment: settings.environment, drill: drill)
                verifier.onStatus = { printInfo("pgkeep: " + $0) }
                try identity.apply(to: verifier, settings: settings)
                let job = SnapshotJob(
                    backup: backup, verifier: verifier,
                    source: spec.filledFromEnvironment(settings.environment).displayURI(database: ""),
                    newServer: newServer, label: label)
                job.onDrill = { record, check in printInfo("pgkeep: drill ok: \(record.manifest.database): " + check) }
                let monitor = try Monitoring(
                    monitoring, settings: settings, command: "snapshot", database: nil, directory: options.directory)
                let result = try monitor.around { try job.run() }
                if let failure = result.failure { printStderr("pgkeep: " + failure) }
                monitor.finish(error: result.failure)
                try exitIfFailed(result.failure != nil)
                Console.out(result.instructions ?? "")
            }
        }
    }
}
