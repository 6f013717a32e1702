import Foundation

/// What `pgkeep status` checks, as the command, the daemon's `/healthz` and the status page ask it.
public struct StatusQuery: Sendable {
    public var directoryFlag: String?
    public var maxAgeFlag: String?
    public var databaseFlags: [String] = []
    public var remoteFlags: [String] = []
    public var remoteOnlyFlag = false

    public init(directoryFlag: String? = nil) { self.directoryFlag = directoryFlag }
}

extension Settings {
    /// The fleet of `[[server]]` tables this config describes, unless `--dir` picks one directory.
    public func fleet(directoryFlag: String?) -> FleetRun? {
        guard directoryFlag == nil, let servers = config?.servers, !servers.isEmpty else { return nil }
        return FleetRun(settings: self, servers: servers)
    }

    /// `pgkeep status`'s report: every server of a fleet, else one directory (and its destinations).
    public func statusReport(_ query: StatusQuery, now: Date = Date()) throws -> StatusCheck.Report {
        let maxAge = try maxAge(flag: query.maxAgeFlag)
        if let fleet = fleet(directoryFlag: query.directoryFlag) { return try fleet.status(maxAge: maxAge, now: now) }
        var check = StatusCheck(
            directory: try directory(flag: query.directoryFlag), databases: statusDatabases(flags: query.databaseFlags),
            maxAge: maxAge, remoteOnly: remoteOnly(flag: query.remoteOnlyFlag))
        check.forecast = restoreForecast
        return try check.run(remotes: destinations(flags: query.remoteFlags, configured: true).map(\.store), now: now)
    }

    /// `pgkeep status --format prometheus`: the metrics of the report's entries and attempts.
    public func statusMetrics(_ query: StatusQuery, report: StatusCheck.Report) throws -> String {
        if let fleet = fleet(directoryFlag: query.directoryFlag) { return try fleet.metricsText() }
        return Metrics.text(
            entries: report.entries, attempts: AttemptLog.read(try directory(flag: query.directoryFlag)))
    }

    /// Everything the status page shows, gathered now. Never throws: what cannot be read is shown
    /// as such (`statusError`, a scope's problems, a destination's error).
    public func statusView(_ query: StatusQuery, now: Date = Date()) -> StatusView {
        var view = StatusView(generated: now)
        do { view.report = try statusReport(query, now: now) } catch {
            view.statusError = (error as? PGKeepError)?.message ?? "\(error)"
        }
        let entries = view.report?.entries ?? []
        var failures: [StatusView.Failure] = []
        if let fleet = fleet(directoryFlag: query.directoryFlag) {
            for (entry, narrowed) in fleet.scoped {
                let prefix = entry.name + "/"
                let mine = entries.filter { $0.database.hasPrefix(prefix) }.map { e in
                    var e = e
                    e.database = String(e.database.dropFirst(prefix.count))
                    return e
                }
                gather(narrowed, server: entry.name, directoryFlag: nil, entries: mine, into: &view, &failures)
            }
        } else {
            gather(self, server: nil, directoryFlag: query.directoryFlag, entries: entries, into: &view, &failures)
        }
        view.failures = failures.sorted { $0.time > $1.time }
        if let cron = config?.scheduleCron {
            let zoneName = config?.scheduleTimeZone ?? "UTC"
            view.schedule = "\(cron.text) (\(zoneName))"
            view.nextRun = TimeZone(identifier: zoneName).flatMap { cron.next(after: now, in: $0) }
        }
        return view
    }

    private func gather(
        _ settings: Settings, server: String?, directoryFlag: String?, entries: [StatusCheck.Entry],
        into view: inout StatusView, _ failures: inout [StatusView.Failure]
    ) {
        guard let directory = try? settings.directory(flag: directoryFlag) else {
            view.scopes.append(
                .init(
                    server: server, directory: "", policy: "", databases: [],
                    problems: ["no backup directory is configured"]))
            return
        }
        let (scope, found) = StatusView.scope(
            server: server, directory: directory, policy: settings.policy(RetentionFlags()), entries: entries,
            remoteOnly: settings.remoteOnly(flag: false))
        view.scopes.append(scope)
        failures += found
        // Each destination as the status check listed it (no second listing).
        let destinations: [Destination]
        do { destinations = try settings.destinations(flags: [], configured: true) } catch {
            view.remotes.append(
                .init(
                    server: server, name: "remote", target: "", error: (error as? PGKeepError)?.message ?? "\(error)"))
            return
        }
        for d in destinations {
            var state = StatusView.RemoteState(server: server, name: d.name, target: d.config.target)
            if view.report == nil {
                state.error = "not known: the status check failed (see above)"
            } else {
                let mine = entries.filter { $0.location == d.store.target }
                state.backups = mine.map(\.count).reduce(0, +)
                state.newest = mine.compactMap(\.newestTime).max()
            }
            view.remotes.append(state)
        }
    }
}
