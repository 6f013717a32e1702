import Foundation

/// What the daemon has done since it started, for its endpoints: the next scheduled run, whether
/// a run is in progress, runs by outcome, and its last failed runs with their error lines.
public final class DaemonState: Sendable {
    public struct Snapshot: Sendable {
        public var started = Date()
        public var running = false
        public var ok = 0
        public var failed = 0
        /// Runs whose child could not even start.
        public var notStarted = 0
        public var nextRun: Date?
        public var lastRunEnd: Date?
        public var lastRunSeconds: Double?
        /// The last 10 failed runs, newest first.
        public var failures: [StatusView.Failure] = []
    }

    private let state = Locked(Snapshot())
    public init() {}

    public var current: Snapshot { state.current }

    func scheduled(_ next: Date?) { state.withLock { $0.nextRun = next } }

    func runStarted() { state.withLock { $0.running = true } }

    /// `failure`: nil when the run succeeded, else its message; `started`: false when the child
    /// could not be started at all.
    func runFinished(seconds: Double, failure: String?, started: Bool = true, at now: Date = Date()) {
        state.withLock {
            $0.running = false
            $0.lastRunEnd = now
            $0.lastRunSeconds = seconds
            switch (started, failure) {
            case (false, _): $0.notStarted += 1
            case (true, nil): $0.ok += 1
            case (true, _?): $0.failed += 1
            }
            if let failure {
                $0.failures.insert(.init(time: now, what: "daemon run", message: failure), at: 0)
                $0.failures = Array($0.failures.prefix(10))
            }
        }
    }

    /// The daemon's own metrics (Prometheus text format), after the status metrics.
    public func metricsText(statusOK: Bool) -> String {
        let s = current
        var out = """
            # HELP pgkeep_status_ok 1 when pgkeep status would exit 0 (what /healthz answers 200 to), else 0.
            # TYPE pgkeep_status_ok gauge
            pgkeep_status_ok \(statusOK ? 1 : 0)
            # HELP pgkeep_daemon_start_timestamp_seconds When the daemon started.
            # TYPE pgkeep_daemon_start_timestamp_seconds gauge
            pgkeep_daemon_start_timestamp_seconds \(Metrics.number(s.started.timeIntervalSince1970.rounded()))
            # HELP pgkeep_daemon_running 1 while a scheduled run is in progress, else 0.
            # TYPE pgkeep_daemon_running gauge
            pgkeep_daemon_running \(s.running ? 1 : 0)
            # HELP pgkeep_daemon_runs_total Runs since the daemon started, by outcome.
            # TYPE pgkeep_daemon_runs_total counter
            pgkeep_daemon_runs_total{outcome="ok"} \(s.ok)
            pgkeep_daemon_runs_total{outcome="failed"} \(s.failed)
            pgkeep_daemon_runs_total{outcome="not_started"} \(s.notStarted)

            """
        if let next = s.nextRun {
            out += "# HELP pgkeep_daemon_next_run_timestamp_seconds When the next scheduled run starts.\n"
            out += "# TYPE pgkeep_daemon_next_run_timestamp_seconds gauge\n"
            out += "pgkeep_daemon_next_run_timestamp_seconds \(Metrics.number(next.timeIntervalSince1970.rounded()))\n"
        }
        if let end = s.lastRunEnd, let seconds = s.lastRunSeconds {
            out += "# HELP pgkeep_daemon_last_run_timestamp_seconds When the last run ended.\n"
            out += "# TYPE pgkeep_daemon_last_run_timestamp_seconds gauge\n"
            out += "pgkeep_daemon_last_run_timestamp_seconds \(Metrics.number(end.timeIntervalSince1970.rounded()))\n"
            out += "# HELP pgkeep_daemon_last_run_duration_seconds How long the last run took.\n"
            out += "# TYPE pgkeep_daemon_last_run_duration_seconds gauge\n"
            out += "pgkeep_daemon_last_run_duration_seconds \(Metrics.number((seconds * 10).rounded() / 10))\n"
        }
        return out
    }
}
