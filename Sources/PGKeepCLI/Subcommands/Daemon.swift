import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep daemon`: the scheduler for a container (PID 1): `pgkeep run` on `[schedule] cron`.
    struct Daemon: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the config's cron job on [schedule] cron, forever: the scheduler for a container.",
            discussion: """
                Each run is `pgkeep run --quiet` with this config (one at a time); one line per event goes to \
                stdout. With --listen (or [daemon] listen) it serves /healthz, /metrics and a status page. Times missed while the daemon was down are not replayed, but a start that finds a database \
                without a backup newer than one interval runs once at once. SIGTERM stops a run in progress \
                as `run` stops and exits 143 within docker's grace. Every config key can come from \
                PGKEEP_<TABLE>_<KEY> variables (see docs/daemon.md).
                """)

        @OptionGroup var location: DirectoryOptions

        /// Overrides `[schedule] cron`.
        @Option(help: ArgumentHelp("Cron expression (default: [schedule] cron).", valueName: "expr"))
        var cron: String?

        /// Overrides `[daemon] listen`.
        @Option(
            help: ArgumentHelp(
                "Serve /healthz, /metrics and the status page on HOST:PORT (default: [daemon] listen; none).",
                valueName: "address"))
        var listen: String?

        func run() throws {
            try reportingErrors("the daemon") {
                let settings = try location.settings()
                let daemon = try settings.daemon(
                    cronFlag: cron, directoryFlag: location.directory, configFlag: location.config.path,
                    binary: PGKeep.Schedule.currentBinary(environment: settings.environment))
                daemon.log = { line in Console.out("\(BackupName.isoString(Date())) \(line)\n") }
                if let server = try settings.statusServer(
                    listenFlag: listen, directoryFlag: location.directory, daemon: daemon)
                {
                    let url = try server.start {
                        Console.out("\(BackupName.isoString(Date())) pgkeep daemon: \($0); the schedule goes on\n")
                    }
                    daemon.log("pgkeep daemon: serving /healthz, /metrics and the status page on \(url)")
                    daemon.runEnded = { server.invalidate() }
                }
                try daemon.serve()
            }
        }
    }
}
