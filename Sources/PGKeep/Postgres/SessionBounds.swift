import Foundation

/// What bounds every connection pgkeep makes or hands to a child, so that nothing it starts
/// can wait forever on a dead network, a held lock or a role's settings:
///
/// - on the client side, libpq's `connect_timeout`, TCP keepalives and `tcp_user_timeout`, so a
///   peer that vanished is noticed within about a minute (`keepalives_idle` + `count` ×
///   `interval` while idle; `tcp_user_timeout` while data waits to be acknowledged);
/// - on the server side, through the startup `options`: the server's own keepalives (so it ends
///   a backend whose client vanished), and `statement_timeout`, `idle_in_transaction_session_timeout`
///   and `lock_timeout` set explicitly, so a role's or a database's values (`ALTER ROLE ... SET`)
///   can neither cut a restore short nor end pgkeep's snapshot session while pg_dump uses it.
///   Client options override role and database settings, and a later `-c` overrides an earlier
///   one, so the user's own `options` (or PGOPTIONS) still come last and win.
///
/// A value the user set (in the URI, the conninfo string or `[connection]`) is never replaced.
/// Keepalives and `tcp_user_timeout` do nothing on a Unix socket, where no network can fail.
public struct SessionBounds: Sendable, Equatable {
    /// Seconds to establish a connection.
    public var connectTimeout = 10
    /// Seconds of silence before the first keepalive probe, between probes, and probes lost
    /// before the connection counts as dead.
    public var keepalivesIdle = 30
    public var keepalivesInterval = 10
    public var keepalivesCount = 3
    /// Milliseconds data may stay unacknowledged before the connection counts as dead.
    public var tcpUserTimeout = 60_000
    /// How long pgkeep's sessions and children wait for a lock (nil: forever).
    public var lockTimeout: TimeInterval? = 600
    /// Send the server-side settings in the startup `options` (and `client_connection_check_interval`).
    /// Off for a pooler that refuses startup options it does not track (PgBouncer):
    /// `[connection] server_options = false`; the client-side bounds stay.
    public var serverOptions = true

    public init() {}

    /// The bounds in force for this process: set once from the settings before a job starts.
    public static var current: SessionBounds {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
    private static let state = Locked(SessionBounds())

    /// `lock_timeout` as the server reads it (milliseconds), or "0" for none.
    public var lockTimeoutSetting: String {
        lockTimeout.map { String(max(1, Int(($0 * 1000).rounded()))) } ?? "0"
    }

    /// pg_dump's `--lock-wait-timeout` for the bound (none without one): pg_dump then fails at
    /// once when it cannot lock a table in time, instead of waiting.
    public var pgDumpLockWait: [String] {
        lockTimeout == nil ? [] : ["--lock-wait-timeout=\(lockTimeoutSetting)"]
    }

    /// The client-side keywords, for those `parameters` does not set.
    func clientParameters(over parameters: [String: String]) -> [String: String] {
        var out: [String: String] = [:]
        let environment = ProcessInfo.processInfo.environment
        if parameters["connect_timeout"] == nil && environment["PGCONNECT_TIMEOUT"] == nil {
            out["connect_timeout"] = String(connectTimeout)
        }
        for (key, value) in [
            ("keepalives", "1"), ("keepalives_idle", String(keepalivesIdle)),
            ("keepalives_interval", String(keepalivesInterval)), ("keepalives_count", String(keepalivesCount)),
            ("tcp_user_timeout", String(tcpUserTimeout)),
        ] where parameters[key] == nil {
            out[key] = value
        }
        return out
    }

    /// The startup `options` for a session: the server's keepalives and the timeouts, then the
    /// user's own options (from the connection, else PGOPTIONS) so that theirs win.
    /// `own`: pgkeep's own libpq session (also fixes lock_timeout and search_path, which the
    /// tools set for themselves); `writes`: the session writes (a restore, a copy's target), so a
    /// role's `default_transaction_read_only` must not turn it away.
    func serverOptions(userOptions: String?, own: Bool, writes: Bool) -> String {
        var settings = [
            "tcp_keepalives_idle=\(keepalivesIdle)", "tcp_keepalives_interval=\(keepalivesInterval)",
            "tcp_keepalives_count=\(keepalivesCount)", "statement_timeout=0", "idle_in_transaction_session_timeout=0",
        ]
        if own { settings += ["lock_timeout=\(lockTimeoutSetting)", "search_path=pg_catalog"] }
        if writes { settings.append("default_transaction_read_only=off") }
        let ours = settings.map { "-c " + $0 }.joined(separator: " ")
        let theirs = userOptions ?? ProcessInfo.processInfo.environment["PGOPTIONS"]
        guard let theirs, !theirs.trimmingCharacters(in: .whitespaces).isEmpty else { return ours }
        return ours + " " + theirs
    }

    /// `parameters` with the bounds added: what a child's `--dbname` or a libpq session gets.
    func apply(to parameters: [String: String], own: Bool, writes: Bool) -> [String: String] {
        var out = parameters
        for (key, value) in clientParameters(over: parameters) { out[key] = value }
        if serverOptions {
            out["options"] = serverOptions(userOptions: parameters["options"], own: own, writes: writes)
        }
        return out
    }
}
