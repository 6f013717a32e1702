import CPGKeep
import Foundation

/// Ends a run that is stuck where TCP cannot tell: a peer that acknowledges every packet but
/// never answers, a tool that hangs, a server that stopped sending. Two bounds:
///
/// - the deadline (`--max-duration`): the whole run, from the moment the bounds are set;
/// - the stall bound (`--stall-timeout`): while a phase that moves data runs (dumping, restoring,
///   copying, a drill), no progress for that long. Progress is a byte pgkeep moved between a
///   tool, a file and the server (`pgkeep_progress_tick`, called by the stream loops), or the
///   server seen working for pgkeep (`ServerWatch`: a backend of pgkeep's busy, or waiting for a
///   lock, which `--lock-wait-timeout` bounds), so a long index build is not a stall.
///
/// Either ends the run the way SIGTERM does (`Cancellation.expire`: children stopped, backends
/// ended, scratch removed, nothing partial kept), with a message naming the bound and the
/// phase, and exit code 124.
// All mutable state is in `state` (a Locked); the progress clock is a C atomic.
public final class Watchdog: @unchecked Sendable {
    public static let shared = Watchdog()

    /// The bounds; nil: none.
    public struct Limits: Sendable, Equatable {
        public var maxDuration: TimeInterval?
        public var stallTimeout: TimeInterval?
        /// The user asked for the stall bound (flag, variable or config). The default bound
        /// applies only to phases whose server pgkeep can watch: elsewhere (inside a compose
        /// service) a long index build moves no byte and would look like a stall.
        public var stallChosen: Bool

        public init(maxDuration: TimeInterval? = nil, stallTimeout: TimeInterval? = 300, stallChosen: Bool = false) {
            self.maxDuration = maxDuration
            self.stallTimeout = stallTimeout
            self.stallChosen = stallChosen
        }
    }

    private struct State {
        var limits = Limits(stallTimeout: nil)
        var started: Int64 = 0
        /// The phases running now, oldest first (several with --parallel); each by its id.
        var phases: [(id: Int, name: String, watched: Bool)] = []
        var nextPhase = 0
        var running = false
    }

    private let state = Locked(State())

    private init() {}

    /// Sets the bounds and starts watching (once per process; a second call changes the bounds).
    public func start(_ limits: Limits) {
        let first = state.withLock { s -> Bool in
            s.limits = limits
            s.started = pgkeep_monotonic_ms()
            defer { s.running = true }
            return !s.running
        }
        guard first else { return }
        let thread = Thread { [self] in
            while true {
                Thread.sleep(forTimeInterval: 0.5)
                if let reason = check(now: pgkeep_monotonic_ms()) {
                    Cancellation.shared.expire(reason)
                    return
                }
            }
        }
        thread.name = "pgkeep-watchdog"
        thread.start()
    }

    /// Runs `body` as a phase that moves data: the stall bound applies while it runs, and
    /// messages name it ("dumping shop", "restoring into shop"). `watched`: a `ServerWatch` counts
    /// the server's work as progress during it (without one, only a chosen stall bound applies).
    public func phase<T>(_ name: String, watched: Bool = true, _ body: () throws -> T) rethrows -> T {
        pgkeep_progress_tick()
        let id = state.withLock { s -> Int in
            s.nextPhase += 1
            s.phases.append((s.nextPhase, name, watched))
            return s.nextPhase
        }
        defer { state.withLock { $0.phases.removeAll { $0.id == id } } }
        return try body()
    }

    /// Why the run must end now, if it must.
    func check(now: Int64) -> String? {
        let s = state.current
        if let max = s.limits.maxDuration, Double(now - s.started) / 1000 >= max {
            let during = s.phases.last.map { " during \($0.name)" } ?? ""
            return "it ran longer than --max-duration \(DurationText.format(max))\(during)"
        }
        if let stall = s.limits.stallTimeout, let phase = s.phases.last, phase.watched || s.limits.stallChosen {
            let idle = Double(now - pgkeep_progress_last()) / 1000
            if idle >= stall {
                return "no progress for \(DurationText.format(idle)) while \(phase.name) (--stall-timeout "
                    + "\(DurationText.format(stall))): no byte moved and the server did no work for it"
            }
        }
        return nil
    }
}
