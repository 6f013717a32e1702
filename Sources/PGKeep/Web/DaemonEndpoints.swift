import Foundation

extension Settings {
    /// The daemon's HTTP endpoints, when `--listen` or `[daemon] listen` asks for them: the
    /// status of this config (what `pgkeep status` checks, with the same `--dir`), the daemon's
    /// own state on the page and in the metrics, basic auth from `[daemon] auth_file`.
    public func statusServer(listenFlag: String?, directoryFlag: String?, daemon: Daemon) throws -> StatusServer? {
        guard let listen = listenFlag ?? config?.daemonListen else { return nil }
        let query = StatusQuery(directoryFlag: directoryFlag)
        let state = daemon.state
        let schedule = "\(daemon.cron.text) (\(daemon.zoneName))"
        let settings = self
        return try StatusServer(listen: listen, authFile: config?.daemonAuthFile) {
            var view = settings.statusView(query)
            let snapshot = state.current
            view.daemon = snapshot
            view.schedule = schedule
            view.nextRun = snapshot.nextRun ?? view.nextRun
            view.failures = (snapshot.failures + view.failures).sorted { $0.time > $1.time }
            var metrics = ""
            if let report = view.report, let text = try? settings.statusMetrics(query, report: report) {
                metrics = text
            }
            metrics += state.metricsText(statusOK: view.ok)
            return StatusServer.Page(
                ok: view.ok, reasons: StatusPage.problems(view), html: StatusPage.render(view), metrics: metrics)
        }
    }
}
