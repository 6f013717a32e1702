import Foundation

/// `pgkeep daemon`: the scheduler that lives in a container. It runs the config's `run` job
/// (a `pgkeep run` child, so every run starts from a clean process: its own bounds, lock and
/// cleanups) at the times of `[schedule] cron`, in `[schedule] timezone` (UTC by default):
///
/// - never two at once: the next time is computed when a run ends, so a run longer than the
///   interval skips the times it covered, and times missed while the daemon was down are not
///   replayed;
/// - on start, one run at once when some database has no backup newer than one interval (the
///   gap between the next two times), so a container that was down over its slot catches up once;
/// - one line per event on stdout (for `docker logs`): started, next run, run started, run
///   finished with its exit code and duration, and the child's error lines when it failed;
/// - SIGTERM (docker stop) during a run: the child gets SIGTERM and cleans up as `run` does, the
///   daemon waits for it (up to `grace` seconds, within docker's 10) and exits 143. Between runs
///   it exits at once.
public final class Daemon {
    public let cron: CronExpression
    public let zone: TimeZone
    /// The zone as configured ("UTC", not Foundation's "GMT").
    public var zoneName: String
    /// The run: `pgkeep run --quiet` with the daemon's config.
    public let run: Command
    /// Whether every database has a backup newer than `maxAge` (the status check).
    public let fresh: (_ maxAge: TimeInterval) -> Bool
    /// Where the event lines go (the command writes them to stdout).
    public var log: (String) -> Void = { _ in }
    /// Seconds between SIGTERM to a running child and SIGKILL.
    public var grace: TimeInterval = 8
    /// The clock and the wait, injectable for tests.
    public var now: () -> Date = Date.init
    public var wait: (TimeInterval) -> Void = { Thread.sleep(forTimeInterval: $0) }
    /// What it has done, for its HTTP endpoints.
    public let state = DaemonState()
    /// Called when a run ends (the endpoints drop their cached status).
    public var runEnded: () -> Void = {}

    public init(cron: CronExpression, zone: TimeZone, run: Command, fresh: @escaping (TimeInterval) -> Bool) {
        self.cron = cron
        self.zone = zone
        zoneName = zone.identifier == "GMT" ? "UTC" : zone.identifier
        self.run = run
        self.fresh = fresh
    }

    /// The times of the next `count` runs after `date`, for the start line and the tests.
    public func upcoming(_ count: Int, after date: Date) -> [Date] {
        var out: [Date] = []
        var t = date
        while out.count < count, let next = cron.next(after: t, in: zone) {
            out.append(next)
            t = next
        }
        return out
    }

    /// Whether the daemon runs at once on start: some database has no backup within one interval.
    public func catchUpNeeded() -> (needed: Bool, interval: TimeInterval?) {
        guard let interval = cron.interval(after: now(), in: zone) else { return (false, nil) }
        return (!fresh(interval), interval)
    }

    /// Runs forever (until a signal ends the process). `iterations` bounds the loop for tests.
    public func serve(iterations: Int = .max) throws {
        Cancellation.shared.gracePeriod = grace
        log("pgkeep daemon: schedule \"\(cron.text)\" (\(zoneName)); runs `\(run.description)`")
        let (needed, interval) = catchUpNeeded()
        state.scheduled(cron.next(after: now(), in: zone))
        if needed {
            log(
                "pgkeep daemon: a database has no backup newer than one interval ("
                    + "\(interval.map(DurationText.format) ?? "?")): running once now")
            runOnce()
        }
        for _ in 0..<iterations {
            guard let next = cron.next(after: now(), in: zone) else {
                throw PGKeepError(.usage, "[schedule] cron \"\(cron.text)\" never matches a date")
            }
            state.scheduled(next)
            log("pgkeep daemon: next run at \(Self.stamp(next, zone))")
            // Waits in steps of at most 30 s: a clock that jumps (a suspended VM) is seen soon.
            while case let left = next.timeIntervalSince(now()), left > 0 { wait(min(left, 30)) }
            runOnce()
        }
    }

    /// One run of the job, start to end, logged.
    func runOnce() {
        let started = now()
        log("pgkeep daemon: run started")
        state.runStarted()
        defer { runEnded() }
        let child = ChildProcess(run, stdout: .null)
        do { try child.start() } catch {
            log("pgkeep daemon: run could not start: \(error)")
            state.runFinished(seconds: 0, failure: "the run could not start: \(error)", started: false)
            return
        }
        let result = child.wait()
        let elapsed = now().timeIntervalSince(started)
        let seconds = String(format: "%.1f", elapsed)
        if result.succeeded {
            log("pgkeep daemon: run finished: ok in \(seconds) s")
            state.runFinished(seconds: elapsed, failure: nil)
        } else {
            log("pgkeep daemon: run finished: FAILED (\(result.termination)) in \(seconds) s")
            let lines = result.stderr.split(separator: "\n").suffix(20)
            for line in lines { log("pgkeep daemon:   | \(line)") }
            state.runFinished(
                seconds: elapsed, failure: "the run \(result.termination):\n" + lines.joined(separator: "\n"))
        }
    }

    static func stamp(_ date: Date, _ zone: TimeZone) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = zone
        f.dateFormat = "yyyy-MM-dd HH:mm"
        return f.string(from: date) + " " + (zone.identifier == "GMT" ? "UTC" : zone.identifier)
    }
}
