import Foundation

/// `--lock-wait-timeout`, `--max-duration` and `--stall-timeout` as typed (nil: not given).
public struct BoundsFlags: Sendable, Equatable {
    public var lockWaitTimeout: String?
    public var maxDuration: String?
    public var stallTimeout: String?

    public init(lockWaitTimeout: String? = nil, maxDuration: String? = nil, stallTimeout: String? = nil) {
        self.lockWaitTimeout = lockWaitTimeout
        self.maxDuration = maxDuration
        self.stallTimeout = stallTimeout
    }

    /// A duration (`90s`, `10m`, `1h30m`), or `none`/`0` for no bound (nil).
    public static func parse(_ text: String) throws -> TimeInterval? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t == "none" || t == "0" || t == "off" { return nil }
        return try DurationText.parse(t)
    }
}

extension Settings {
    /// The defaults: a lock is waited for 10 minutes (a cron job then fails and says who held
    /// it, instead of waiting all night); no deadline; 5 minutes without progress is a stall.
    public static let defaultLockWait: TimeInterval = 600
    public static let defaultStall: TimeInterval = 300

    /// Each bound: the flag, else PGKEEP_LOCK_WAIT_TIMEOUT / PGKEEP_MAX_DURATION /
    /// PGKEEP_STALL_TIMEOUT, else the config's `[backup]` key, else the default. The connection's
    /// keepalives and timeouts come from `[connection]` over `SessionBounds`' defaults.
    public func bounds(_ flags: BoundsFlags) throws -> (session: SessionBounds, limits: Watchdog.Limits) {
        func pick(_ flag: String?, _ variable: String, _ file: TimeInterval?, _ fallback: TimeInterval?) throws
            -> TimeInterval?
        {
            if let text = flag ?? Self.nonEmpty(environment[variable]) { return try BoundsFlags.parse(text) }
            if let file { return file > 0 ? file : nil }
            return fallback
        }
        var session = SessionBounds()
        session.lockTimeout = try pick(
            flags.lockWaitTimeout, "PGKEEP_LOCK_WAIT_TIMEOUT", config?.lockWaitTimeout, Self.defaultLockWait)
        if let c = config {
            session.connectTimeout = c.connectTimeout ?? session.connectTimeout
            session.keepalivesIdle = c.keepalivesIdle ?? session.keepalivesIdle
            session.keepalivesInterval = c.keepalivesInterval ?? session.keepalivesInterval
            session.keepalivesCount = c.keepalivesCount ?? session.keepalivesCount
            session.tcpUserTimeout = c.tcpUserTimeout ?? session.tcpUserTimeout
            session.serverOptions = c.serverOptions ?? session.serverOptions
        }
        let limits = Watchdog.Limits(
            maxDuration: try pick(flags.maxDuration, "PGKEEP_MAX_DURATION", config?.maxDuration, nil),
            stallTimeout: try pick(flags.stallTimeout, "PGKEEP_STALL_TIMEOUT", config?.stallTimeout, Self.defaultStall),
            stallChosen: flags.stallTimeout != nil || Self.nonEmpty(environment["PGKEEP_STALL_TIMEOUT"]) != nil
                || config?.stallTimeout != nil)
        return (session, limits)
    }

    /// Puts the bounds in force for this process: every session and child from now on, and the
    /// watchdog (whose deadline counts from here).
    public func applyBounds(_ flags: BoundsFlags) throws {
        let (session, limits) = try bounds(flags)
        SessionBounds.current = session
        Watchdog.shared.start(limits)
    }
}
