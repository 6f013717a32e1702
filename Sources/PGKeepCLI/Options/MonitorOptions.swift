import ArgumentParser
import Foundation
import PGKeep

/// Monitoring on the command line: dead-man's-switch pings, notifications, the metrics file.
struct MonitorOptions: ParsableArguments {
    @Option(
        name: .customLong("healthchecks"),
        help: ArgumentHelp("Ping this healthchecks.io check URL: /start, then success or /fail.", valueName: "url"))
    var healthchecks: String?
    @Option(
        name: .customLong("uptime-kuma"),
        help: ArgumentHelp("Push the outcome to this Uptime Kuma push URL.", valueName: "url"))
    var uptimeKuma: String?
    @Option(
        name: .customLong("webhook"),
        help: ArgumentHelp("POST a JSON event here per database (start, success, failure, anomaly).", valueName: "url"))
    var webhook: String?
    @Option(
        name: .customLong("ntfy"),
        help: ArgumentHelp("Post failures and anomalies to this ntfy topic URL.", valueName: "url"))
    var ntfy: String?
    @Option(
        name: .customLong("slack"),
        help: ArgumentHelp("Post failures and anomalies to this Slack incoming-webhook URL.", valueName: "url"))
    var slack: String?
    @Option(
        name: .customLong("discord"),
        help: ArgumentHelp("Post failures and anomalies to this Discord webhook URL.", valueName: "url"))
    var discord: String?
    @Option(
        name: .customLong("teams"),
        help: ArgumentHelp("Post failures and anomalies to this Microsoft Teams webhook URL.", valueName: "url"))
    var teams: String?
    @Option(
        name: .customLong("metrics-file"),
        help: ArgumentHelp("Rewrite this Prometheus textfile after the run (node_exporter).", valueName: "path"))
    var metricsFile: String?

    var flags: MonitorFlags {
        var f = MonitorFlags()
        f.healthchecks = healthchecks
        f.uptimeKuma = uptimeKuma
        f.webhook = webhook
        f.ntfy = ntfy
        f.slack = slack
        f.discord = discord
        f.teams = teams
        f.metricsFile = metricsFile
        return f
    }
}

/// One command's monitoring: the pings around it, the attempt log, the metrics file afterwards.
/// Nothing here changes the command's outcome: a problem is a warning.
struct Monitoring {
    let monitor: RunMonitor?
    let metricsFile: String?
    let directory: String?
    let database: String?
    /// "backup", "run", "prune", ...: only a backup's failure is an attempt.
    let command: String
    /// The destinations whose backups the metrics also report (the run's, a remote prune's).
    let remotes: [any RemoteStore]
    /// A fleet's servers: the metrics cover each one's directory (a `server` label), and each
    /// server's attempts are logged in its own directory.
    var scopes: [Metrics.Scope] = []

    init(
        _ options: MonitorOptions, settings: Settings, command: String, database: String?, directory: String?,
        remotes: [any RemoteStore] = []
    ) throws {
        let targets = try settings.monitorTargets(options.flags)
        monitor =
            targets.isEmpty
            ? nil
            : RunMonitor(targets, command: command, database: database) { printStderr("pgkeep: warning: " + $0) }
        metricsFile = settings.metricsFile(options.flags)
        self.directory = directory
        self.database = database
        self.command = command
        self.remotes = remotes
    }

    /// Runs `body` between the start ping and the outcome; an error thrown is the outcome.
    func around<T>(_ body: () throws -> T) throws -> T {
        monitor?.started()
        do {
            return try body()
        } catch let error as PGKeepError {
            // A backup that failed is an attempt; a prune or verify, or a run another one held
            // off (locked), is not.
            if let database, ["backup", "run"].contains(command), error.kind != .locked {
                record([
                    database: .init(
                        time: BackupName.isoString(Date()), success: false, durationSeconds: nil, error: error.message)
                ])
            }
            finish(error: error.message)
            throw error
        }
    }

    /// A backup run's databases: their events and attempts, then the outcome and the metrics.
    func backups(_ summary: BackupJob.Summary, started: Date) {
        var attempts: [String: AttemptLog.Attempt] = [:]
        let now = BackupName.isoString(Date())
        for record in summary.records {
            monitor?.recorded(record.manifest, path: record.path)
            attempts[record.manifest.database] = .init(
                time: now, success: true, durationSeconds: record.manifest.durationSeconds)
        }
        for (database, error) in summary.failures {
            monitor?.failed(database: database, error: Redaction.shared.apply(error.message))
            attempts[database] = .init(
                time: now, success: false, durationSeconds: Date().timeIntervalSince(started).rounded(),
                error: error.message)
        }
        if scopes.isEmpty { record(attempts) }
        finish(error: nil)
    }

    /// The attempt log, kept in the backup directory (it feeds the metrics' last-attempt gauges and
    /// the status page's failures).
    func record(_ attempts: [String: AttemptLog.Attempt], in directory: String? = nil) {
        // A run a signal ends is being torn down (its files removed, the exit on its way): nothing
        // new is written into the directory then.
        guard let directory = directory ?? self.directory, Cancellation.shared.signalReceived == nil else { return }
        do { try AttemptLog.record(attempts, directory: directory) } catch let e as PGKeepError {
            printStderr("pgkeep: warning: " + e.message)
        } catch {}
    }

    /// The outcome (nil: as the events said) and the metrics file.
    func finish(error: String?) {
        monitor?.finished(error: error.map { Redaction.shared.apply($0) })
        guard let metricsFile, let directory else { return }
        let scopes = self.scopes.isEmpty ? [Metrics.Scope(server: nil, directory: directory)] : self.scopes
        do { try Metrics.write(to: metricsFile, scopes: scopes, remotes: remotes) } catch let e as PGKeepError {
            printStderr("pgkeep: warning: metrics file \(metricsFile) not written: " + e.message)
        } catch {
            printStderr("pgkeep: warning: metrics file \(metricsFile) not written: \(error)")
        }
    }
}
