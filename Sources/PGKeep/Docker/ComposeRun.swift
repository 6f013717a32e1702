import Foundation

/// What one pgkeep process runs inside one docker compose service, so that nothing of it outlives
/// the run there. `docker exec` ends nothing when its client dies: a pg_dump waiting on a lock or
/// writing into the daemon's buffer runs on. So every command runs under a small `sh` wrapper that
/// leaves a marker `/tmp/.pgkeep-HOSTPID-TAGNONCE-pid-N` (N: the wrapper, leader of its own process
/// group as every exec'd process is; the marker holds its start time, so a reused pid is never
/// taken for it) and removes it when the command ends; files pgkeep puts there carry the same
/// prefix. The sweep (one more exec) stops the commands under the wrappers still running (SIGTERM,
/// 3 s, SIGKILL), ends their server backends (application_name `pgkeep-HOSTPID-TAG`, TAG being the
/// first six characters after the pid: `ChildEnvironment.applicationName`) and removes every
/// file of the prefix.
///
/// It runs on SIGINT/SIGTERM (a `Cancellation` cleanup), when the run ends with something possibly
/// left, and after a SIGKILL of pgkeep: a watchdog on this machine (`sh`, its own process group)
/// reads pgkeep's last word on a pipe and sweeps unless it was "clean" when the pipe closed. A run
/// that finds markers of a pgkeep no longer running (the watchdog killed too) sweeps them first.
// The mutable fields are in `state` (a Locked); the rest is immutable after init.
final class ComposeRun: ChildObserver, @unchecked Sendable {
    static let markerPrefix = "/tmp/.pgkeep-"
    /// `/tmp/.pgkeep-HOSTPID-TAGNONCE`: every marker and file of this run starts with it (TAG: the
    /// process's, in its application_name; NONCE: the run's, digits).
    let prefix =
        "\(ComposeRun.markerPrefix)\(getpid())-\(ChildEnvironment.processTag)\(UInt32.random(in: 0...UInt32.max))"
    /// `sh -c SWEEP sh USER DATABASE` in the service: a sweep appends its names and prefixes.
    private let sweepBase: Command
    private struct State {
        var running = 0
        var dirty = false
        var watchdog: ChildProcess?
        var cancelToken: Int?

        /// What the watchdog is told: whether anything of the run may be left.
        var word: String { running == 0 && !dirty ? "clean" : "dirty" }

        /// Tells the watchdog `word` (under the lock, so that words arrive in order).
        func tell(_ word: String) {
            guard let watchdog else { return }
            _ = Data((word + "\n").utf8).withUnsafeBytes { FileSystem.writeUntilClosed(watchdog.stdinDescriptor, $0) }
        }
    }
    private let state = Locked(State())

    /// The prefixes of this process's runs (a process may hold several services, even two on one
    /// container: a copy within a service): never taken for a dead run's.
    private static let ours = Locked<Set<String>>([])

    /// `sweepBase` runs `sweepScript` in the service (`sh -c SWEEP sh USER DATABASE`).
    init(sweepBase: Command) {
        self.sweepBase = sweepBase
        Self.ours.withLock { _ = $0.insert(prefix) }
    }

    /// A run let go while its process goes on (one job of `pgkeep daemon`) ends like a process:
    /// swept if something may be left, its watchdog told and reaped.
    deinit {
        close()
        Self.ours.withLock { _ = $0.remove(prefix) }
    }

    /// Sweeps if something may be left, then ends the watchdog (told "clean") and the signal cleanup.
    func close() {
        guard let dog = state.withLock({ $0.watchdog }) else { return }
        if mayHaveLeftSomething { sweep() }
        // Told "clean" only when it is: otherwise the watchdog sweeps again as it ends.
        let token = state.withLock { s in
            s.tell(s.word)
            s.watchdog = nil
            defer { s.cancelToken = nil }
            return s.cancelToken
        }
        dog.closeStdin()
        if !dog.waitForExit(timeout: 20) { dog.terminate(grace: 1) }
        _ = dog.wait()
        if let token { Cancellation.shared.unregister(token) }
    }

    /// `inner` under the wrapper: `sh -c WRAPPER sh PREFIX inner...`.
    func wrap(_ inner: [String]) -> [String] {
        ["sh", "-c", Self.wrapper, "sh", prefix] + inner
    }

    /// A path in the container's /tmp that the sweep removes with the run's markers.
    func file(_ name: String) -> String { prefix + "-" + name }

    /// The sweep of `prefixes`: their commands, files, and the backends of their application names,
    /// except this process's own name for a run that is not this one (a sibling run of this process
    /// keeps its sessions).
    func sweepCommand(for prefixes: [String]) -> Command {
        let names = prefixes.compactMap { p -> String? in
            guard let name = Self.applicationName(ofRun: p), p == prefix || name != ChildEnvironment.applicationName
            else { return nil }
            return "'\(name)'"
        }
        var command = sweepBase
        command.arguments += [Set(names).sorted().joined(separator: ",")] + prefixes
        return command
    }

    /// Starts the watchdog and the signal cleanup (once, before the first wrapped command).
    func arm() throws {
        // The watchdog starts under the lock (it has no observer: nothing calls back into this run).
        try state.withLock { s in
            guard s.watchdog == nil else { return }
            let sweep = sweepCommand(for: [prefix])
            let dog = ChildProcess(
                Command(
                    executable: "/bin/sh",
                    arguments: ["-c", Self.watchdogScript, "sh", sweep.executable] + sweep.arguments,
                    environment: sweep.environment), stdin: .pipe)
            try dog.start()
            s.watchdog = dog
            s.cancelToken = Cancellation.shared.register(cleanup: { [weak self] in self?.sweep() }, stage: .backends)
        }
    }

    func started() {
        state.withLock { s in
            s.running += 1
            s.tell("dirty")
        }
    }

    func ended(_ termination: Termination) {
        state.withLock { s in
            s.running -= 1
            // A wrapper that ended by itself removed its marker; anything else may have left one.
            if termination != .exited(0) { s.dirty = true }
            s.tell(s.word)
        }
    }

    /// Whether something of this run may still be in the container.
    var mayHaveLeftSomething: Bool { state.withLock { $0.running > 0 || $0.dirty } }

    /// Marks the run as having put something in the container that only the sweep removes.
    func markDirty() {
        state.withLock { s in
            s.dirty = true
            s.tell("dirty")
        }
    }

    /// Stops and removes what this run left in the container (synchronously); once that is done,
    /// tells the watchdog all is clean (a sweep that could not run leaves the run dirty).
    func sweep() {
        let done = (try? ChildProcess.capture(sweepCommand(for: [prefix])))?.result.succeeded ?? false
        state.withLock { s in
            if done { s.dirty = false }
            s.tell(s.word)
        }
    }

    /// Sweeps at the end of the run when something may be left; says "clean" otherwise.
    func finish() {
        if mayHaveLeftSomething { sweep() }
    }

    /// The runs whose markers `listing` (one path a line) shows and whose pgkeep is gone: their
    /// prefixes. A pgkeep with that pid that is still running (this one, with another nonce, is
    /// not) keeps its markers.
    func deadRuns(in listing: String) -> [String] {
        var prefixes = Set<String>()
        for line in listing.split(separator: "\n") where line.hasPrefix(Self.markerPrefix) {
            let parts = line.dropFirst(Self.markerPrefix.count).split(separator: "-", maxSplits: 2)
            guard parts.count == 3, let pid = Int32(parts[0]) else { continue }
            let runPrefix = Self.markerPrefix + parts[0] + "-" + parts[1]
            guard Self.applicationName(ofRun: runPrefix) != nil else { continue }
            guard !Self.ours.withLock({ $0.contains(runPrefix) }) else { continue }
            if pid != getpid() && Self.isPGKeep(pid) { continue }
            prefixes.insert(runPrefix)
        }
        return prefixes.sorted()
    }

    /// The application_name of the pgkeep that made the run `/tmp/.pgkeep-PID-TAGNONCE`:
    /// `pgkeep-PID-TAG`; nil for a name of another shape.
    static func applicationName(ofRun runPrefix: String) -> String? {
        guard runPrefix.hasPrefix(markerPrefix) else { return nil }
        let parts = runPrefix.dropFirst(markerPrefix.count).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, Int32(parts[0]) != nil, parts[1].count > 6 else { return nil }
        let tag = parts[1].prefix(6)
        guard tag.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) }),
            UInt32(parts[1].dropFirst(6)) != nil
        else { return nil }
        return ChildEnvironment.applicationName(pid: parts[0], tag: tag)
    }

    /// Whether `pid` is a running pgkeep on this machine.
    static func isPGKeep(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM,
            let comm = FileManager.default.contents(atPath: "/proc/\(pid)/comm")
        else { return false }
        return String(decoding: comm, as: UTF8.self).hasPrefix("pgkeep")
    }

    /// In the container: `sh -c WRAPPER sh PREFIX cmd...`. Files private (umask 077); the marker
    /// holds the wrapper's start time (field 22 of /proc/PID/stat). Only sh and /proc are needed.
    static let wrapper = """
        umask 077; m="$1-pid-$$"; shift
        \(startTime)
        st $$ > "$m" 2>/dev/null
        "$@"; s=$?; rm -f "$m"; exit $s
        """

    private static let startTime = #"st() { read -r l < "/proc/$1/stat" || return 1; set -- $l; shift 21; echo "$1"; }"#

    /// On this machine, its own process group, stdin a pipe from pgkeep: the last line pgkeep
    /// wrote before the pipe closed decides; anything but "clean" (a SIGKILL, a run that ended
    /// with something in flight) runs the sweep, again each second while the service cannot run
    /// it (a container restarting), 15 s at most.
    static let watchdogScript = """
        exec 2>/dev/null
        last=dirty
        while read -r word; do last=$word; done
        [ "$last" = clean ] && exit 0
        i=0
        while [ $i -lt 15 ]; do "$@" >/dev/null && exit 0; i=$((i + 1)); sleep 1; done
        """

    /// In the container: `sh -c SWEEP sh USER DATABASE NAMES PREFIX...` (NAMES: the application
    /// names whose backends end, as SQL literals; only when a command was still running: the
    /// backends of commands that ended by themselves are gone, and a sibling run of this process
    /// on the same container keeps its sessions). The commands under the wrappers
    /// whose markers still name a live wrapper get SIGTERM, up to 3 s, then SIGKILL; then their
    /// backends are terminated and the files removed. The wrappers themselves are never signalled:
    /// each reaps its command and exits by itself. A process that outlived its parent would be
    /// reparented to the container's PID 1, which in a PostgreSQL image is the postmaster, and
    /// the postmaster takes the death by a signal of any child it reaps for a crashed backend:
    /// it restarts every session and recovers the database.
    static let sweepScript = """
        u=$1; db=$2; names=$3; shift 3
        \(startTime)
        kids() { w=$1; for f in /proc/[0-9]*/stat; do read -r l < "$f" 2>/dev/null || continue
          set -- $l; [ "$4" = "$w" ] && echo "$1"; done; }
        live=""
        for p in "$@"; do for m in "$p"-pid-*; do [ -f "$m" ] || continue
          w=${m##*-pid-}; read -r want < "$m" 2>/dev/null || continue
          [ -n "$want" ] && [ "$(st "$w" 2>/dev/null)" = "$want" ] && live="$live $w"; done; done
        signal() { for w in $live; do for c in $(kids "$w"); do kill -$1 "$c" 2>/dev/null; done; done; }
        found=$live
        signal TERM
        i=0
        while [ -n "$live" ] && [ $i -lt 30 ]; do
          left=""; for w in $live; do kill -0 "$w" 2>/dev/null && left="$left $w"; done
          live=$left; [ -n "$live" ] && sleep 0.1; i=$((i + 1))
        done
        signal KILL
        q="SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name IN ($names) \
        AND pid <> pg_backend_pid()"
        [ -n "$names" ] && [ -n "$found" ] && for d in "$db" postgres; do psql -X -q -At --no-password --username="$u" --dbname="$d" -c "$q" \
          >/dev/null 2>&1 && break; done
        for p in "$@"; do rm -f -- "$p"-*; done
        exit 0
        """
}
