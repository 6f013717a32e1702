import CPGKeep
import Foundation

/// Watches, from a session of its own, what the server is doing for this pgkeep process (every
/// session and child of it is named `pgkeep-PID-TAG`), twice a second while a job runs:
///
/// - a backend of pgkeep's that is busy (running a query, building an index, waiting for a
///   lock) counts as progress for the `Watchdog`, so only real silence is a stall;
/// - a backend waiting for a lock: who blocks it (`pg_blocking_pids`: pid, application, user,
///   for how long, the start of its query) is remembered, so that a lock timeout names them;
/// - a wait longer than the lock bound plus a margin is cancelled (`pg_cancel_backend`): the
///   backstop where no tool can be told the bound (a `--jobs` restore's own `SET lock_timeout = 0`).
///
/// Best effort by design: if the watch cannot connect or its query fails, the job goes on
/// unwatched (its own timeouts still hold), and it never changes anything but cancelling
/// pgkeep's own waits.
// All mutable state is in `seen` (a Locked); the rest is set in init. The watch's connection is
// used by its own thread only.
public final class ServerWatch: @unchecked Sendable {
    /// A session that held a lock a pgkeep session waited for.
    public struct Blocker: Sendable, Equatable {
        public var pid: String
        public var application: String
        public var user: String
        /// Seconds since its transaction (else its connection) began.
        public var seconds: Double
        public var query: String
        public var state: String

        var description: String {
            let app = application.isEmpty ? "no application_name" : "application \"\(application)\""
            return "pid \(pid) (\(app), user \(user), \(state) for \(DurationText.format(seconds)): \(query))"
        }
    }

    private struct Seen {
        var blockers: [Blocker] = []
        var longestWait: Double = 0
        var cancelled = false
        var stopped = false
        /// When each of pgkeep's backends was first seen waiting for a lock (a long statement that
        /// only now waits has not waited long).
        var waitingSince: [String: Date] = [:]
    }

    private let spec: ConnectionSpec
    private let database: String
    private let lockTimeout: TimeInterval?
    private let seen = Locked(Seen())

    public init(spec: ConnectionSpec, database: String, lockTimeout: TimeInterval? = SessionBounds.current.lockTimeout)
    {
        var quiet = spec
        quiet.writes = false
        self.spec = quiet
        self.database = database
        self.lockTimeout = lockTimeout
    }

    /// Wakes the watch's thread from its pause (`stop`), and says when the thread has ended.
    private let wake = DispatchSemaphore(value: 0)
    private let ended = DispatchSemaphore(value: 0)
    private let started = Locked(false)

    /// Starts watching on a thread of its own; `stop()` ends it.
    public func start() {
        started.withLock { $0 = true }
        let thread = Thread { [self] in
            defer { ended.signal() }
            guard
                let connection = try? PostgresConnection(
                    spec: spec, database: database, applicationName: ChildEnvironment.applicationName + "-watch")
            else { return }
            while !seen.current.stopped {
                guard let rows = try? connection.query(query) else { return }
                observe(rows, connection: connection)
                _ = wake.wait(timeout: .now() + 0.5)
            }
        }
        thread.name = "pgkeep-server-watch"
        thread.start()
    }

    /// Ends the watch and waits (a few seconds at most) for its thread to leave libpq: a process
    /// that exits while another thread is inside libpq can crash in its teardown.
    public func stop() {
        seen.withLock { $0.stopped = true }
        guard started.current else { return }
        wake.signal()
        _ = ended.wait(timeout: .now() + 3)
    }

    /// Only the backends in the watched database (a backup's watch, beside others of `--parallel`);
    /// a copy's target watch sits in the maintenance database and watches every one.
    public var onlyItsDatabase = false

    var query: String { Self.query + (onlyItsDatabase ? " AND w.datname = pg_catalog.current_database()" : "") }

    /// pgkeep's other backends; for each one waiting on a lock, one row per session blocking it.
    static let query = """
        SELECT w.pid, w.state, coalesce(w.wait_event_type, ''),
          extract(epoch FROM clock_timestamp() - w.query_start)::float8,
          b.pid, b.application_name, b.usename,
          extract(epoch FROM clock_timestamp() - coalesce(b.xact_start, b.backend_start))::float8,
          left(regexp_replace(coalesce(b.query, ''), '\\s+', ' ', 'g'), 120), b.state
        FROM pg_catalog.pg_stat_activity w
        LEFT JOIN LATERAL unnest(pg_catalog.pg_blocking_pids(w.pid)) AS bp(pid) ON w.wait_event_type = 'Lock'
        LEFT JOIN pg_catalog.pg_stat_activity b ON b.pid = bp.pid
        WHERE w.application_name = \(SQL.literal(ChildEnvironment.applicationName))
          AND w.pid <> pg_catalog.pg_backend_pid()
        """

    private func observe(_ rows: [[String?]], connection: PostgresConnection) {
        var busy = false
        let now = Date()
        let waiting = Set(rows.filter { $0.count == 10 && $0[2] == "Lock" }.compactMap { $0[0] })
        seen.withLock { s in
            s.waitingSince = s.waitingSince.filter { waiting.contains($0.key) }
            for pid in waiting where s.waitingSince[pid] == nil { s.waitingSince[pid] = now }
        }
        for row in rows where row.count == 10 {
            let state = row[1] ?? ""
            let waitType = row[2] ?? ""
            if state == "active" && waitType != "Client" { busy = true }
            guard waitType == "Lock", let waiter = row[0] else { continue }
            let waited = seen.withLock { s in now.timeIntervalSince(s.waitingSince[waiter] ?? now) }
            seen.withLock { s in
                s.longestWait = max(s.longestWait, waited)
                if let pid = row[4] {
                    let blocker = Blocker(
                        pid: pid, application: row[5] ?? "", user: row[6] ?? "",
                        seconds: row[7].flatMap(Double.init) ?? 0, query: row[8] ?? "",
                        state: (row[9] ?? "").isEmpty ? "connected" : row[9]!)
                    s.blockers.removeAll { $0.pid == pid }
                    s.blockers.append(blocker)
                }
            }
            if let bound = lockTimeout, waited > bound + 5 {
                seen.withLock { $0.cancelled = true }
                _ = try? connection.query("SELECT pg_catalog.pg_cancel_backend(\(SQL.literal(waiter))::int)")
            }
        }
        if busy { pgkeep_progress_tick() }
    }

    /// The sessions seen blocking pgkeep, newest observation last.
    public var blockers: [Blocker] { seen.current.blockers }

    /// `error` again, or, when it came from a lock wait that hit its bound, an error that says
    /// so and names the sessions that held the lock. `outcome` says what the failure left
    /// (e.g. "no backup was recorded", "nothing was changed").
    public func explain(_ error: Error, what: String, outcome: String, kind: PGKeepError.Kind = .backup) -> Error {
        let s = seen.current
        let text: String
        if let e = error as? PGKeepError {
            text = e.message + "\n" + (e.stderrTail ?? "")
        } else {
            text = "\(error)"
        }
        // pg_dump 15 bounds its LOCK TABLE with statement_timeout; a wait this watch saw, or
        // cancelled itself, ends in "canceling statement" too.
        let timedOut =
            text.contains("lock timeout") || text.contains("could not obtain lock")
            || (text.contains("canceling statement")
                && (s.cancelled || !s.blockers.isEmpty || text.contains("LOCK TABLE")))
        guard timedOut else { return error }
        let bound = lockTimeout.map { " \(DurationText.format($0))" } ?? ""
        let holders =
            s.blockers.isEmpty
            ? "the session holding it had gone before pgkeep could name it"
            : "held by " + s.blockers.map(\.description).joined(separator: "; ")
        return PGKeepError(
            kind, "\(what) gave up waiting\(bound) for a lock (--lock-wait-timeout): \(holders); \(outcome)",
            command: (error as? PGKeepError)?.command, stderrTail: (error as? PGKeepError)?.stderrTail,
            hint: "end or wait for that session (SELECT pg_terminate_backend(PID)), then run pgkeep again; "
                + "--lock-wait-timeout (or [backup] lock_wait_timeout) sets how long pgkeep waits")
    }
}
