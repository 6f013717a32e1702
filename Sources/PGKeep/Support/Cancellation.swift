import CPGKeep
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What SIGINT and SIGTERM undo, in this order: the running children are stopped with their
/// process groups (SIGTERM, a short wait, SIGKILL), then their server backends are terminated,
/// then scratch databases are dropped, then temporary files removed; then pgkeep says what was
/// interrupted and exits with 128+signal. The exit happens in one place, here, on the thread that
/// received the signal; the main thread, should it get there first, waits for it
/// (`waitIfCancelled`). Modelled on SwiftPM's Cancellator.
// Every mutable property is in `state` (a Locked); `commitLock` orders commits and a cancel.
public final class Cancellation: Sendable {
    public static let shared = Cancellation()

    /// When a cleanup runs: after the children are stopped, in this order.
    public enum Stage: Int, Sendable, CaseIterable {
        /// End the server backends of the children (a pg_dump killed while waiting for a lock
        /// leaves its backend waiting).
        case backends
        /// Drop scratch databases (restore drills).
        case databases
        /// Remove temporary files elsewhere (copies inside a container).
        case files
    }

    private struct State {
        var children: [Int: ChildProcess] = [:]
        var paths: [Int: String] = [:]
        var cleanups: [Int: (stage: Stage, run: () -> Void)] = [:]
        var nextToken = 0
        var installed = false
        var cancelledSignal: Int32?
        var cleanupThread: pthread_t?
        var notes: [String] = []
        var gracePeriod: TimeInterval = 3
        var operation = "the run"
    }

    private let state = Locked(State())

    /// The grace period between SIGTERM and SIGKILL for children.
    public var gracePeriod: TimeInterval {
        get { state.withLock { $0.gracePeriod } }
        set { state.withLock { $0.gracePeriod = newValue } }
    }
    /// What this run is doing, for the message: "a backup", "a restore", "a prune", "a verify".
    public var operation: String {
        get { state.withLock { $0.operation } }
        set { state.withLock { $0.operation = newValue } }
    }

    private init() {}

    /// Installs the SIGINT/SIGTERM handlers once; also ignores SIGPIPE so that a reader that
    /// goes away surfaces as EPIPE on write instead of killing pgkeep.
    ///
    /// The handlers are real functions, not SIG_IGN plus a dispatch source: an ignored signal
    /// stays ignored across exec. Children are started with every signal at its default
    /// disposition all the same (`Spawn`), SIGPIPE included. The handler only writes the signal
    /// number to a pipe; a thread reads it and does the work outside signal context.
    public func install() {
        state.withLock { s in
            signal(SIGPIPE, SIG_IGN)
            guard !s.installed else { return }
            s.installed = true
            var fds: [Int32] = [-1, -1]
            guard pgkeep_pipe_cloexec(&fds) == 0 else { return }
            signalPipeWriteEnd = fds[1]
            let readEnd = fds[0]
            let thread = Thread { [weak self] in
                var byte: UInt8 = 0
                while true {
                    let n = read(readEnd, &byte, 1)
                    if n == 1 {
                        self?.cancel(signal: Int32(byte))
                        continue
                    }
                    if n < 0 && errno == EINTR { continue }
                    return
                }
            }
            thread.name = "pgkeep-signals"
            thread.start()
            signal(SIGINT, pgkeepSignalHandler)
            signal(SIGTERM, pgkeepSignalHandler)
            // A parent may have started us with these signals blocked (a spawning thread's mask is
            // inherited); then neither we nor our children would ever see them.
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGINT)
            sigaddset(&set, SIGTERM)
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
        }
    }

    /// Whether a child may start now: always before a signal; after one, only the cleanups' own
    /// (dropping a scratch database inside a docker compose service needs psql there).
    public var mayStartChildren: Bool {
        state.withLock { s in
            guard s.cancelledSignal != nil else { return true }
            return s.cleanupThread.map { pthread_equal($0, pthread_self()) != 0 } ?? false
        }
    }

    /// The signal that stopped this run, if any.
    public var signalReceived: Int32? { state.withLock { $0.cancelledSignal } }

    public func register(child: ChildProcess) -> Int { add { $0.children[$1] = child } }
    /// A temporary path to remove on a cancel. Registered after a cancel began (a run that went
    /// on to its next database while the signal thread cleans up), it is not: the caller waits
    /// here for the exit instead of creating a file no cleanup would see.
    public func register(path: String) -> Int {
        // Only the cleanup thread may go on after a cancel (`mayStartChildren`).
        if !mayStartChildren { while true { pause() } }
        return add { $0.paths[$1] = path }
    }
    public func register(cleanup: @escaping () -> Void, stage: Stage) -> Int {
        add { $0.cleanups[$1] = (stage, cleanup) }
    }

    public func unregister(_ token: Int) {
        state.withLock { s in
            s.children[token] = nil
            s.paths[token] = nil
            s.cleanups[token] = nil
        }
    }

    private func add(_ body: (inout State, Int) -> Void) -> Int {
        state.withLock { s in
            s.nextToken += 1
            body(&s, s.nextToken)
            return s.nextToken
        }
    }

    /// After a signal, the main thread must not exit on its own (with an error it met because
    /// its children were stopped): the signal thread is cleaning up and exits for both.
    public func waitIfCancelled() {
        guard signalReceived != nil else { return }
        while true { pause() }
    }

    /// Stops every registered child, then runs the cleanups stage by stage, removes temporary
    /// paths, says what was interrupted, and exits.
    public func cancel(signal sig: Int32) {
        let name = sig == SIGINT ? "SIGINT" : "SIGTERM"
        stop(marker: sig, exitCode: 128 + sig) { what in "\(what) was interrupted by \(name)" }
    }

    /// The same clean stop for a run the watchdog ended (`--max-duration`, `--stall-timeout`):
    /// `reason` says which bound and in which phase; the exit code is `ExitCodes.timedOut`.
    public func expire(_ reason: String) {
        stop(marker: 0, exitCode: ExitCodes.timedOut) { what in "\(what) was stopped: \(reason)" }
    }

    /// Something a cleanup could not do, for the closing message (e.g. the server could not be
    /// reached to end pgkeep's sessions).
    public func note(_ text: String) {
        state.withLock { $0.notes.append(text) }
    }

    /// Held while a backup is committed (its renames, the fsync, and handing its paths over), so
    /// that a cancel (a signal, the watchdog) waits for the commit to end instead of removing a
    /// data file whose manifest is already in place. A cancel takes it and never gives it back:
    /// it exits inside.
    private let commitLock = Locked(())

    /// Runs `body` so that no cancel cuts it in half (see `commitLock`). Keep it short: a cancel
    /// waits for it.
    public func uninterrupted<T>(_ body: () throws -> T) rethrows -> T {
        try commitLock.withLock { _ in try body() }
    }

    private func stop(marker: Int32, exitCode: Int32, headline: (String) -> String) {
        // The whole stop holds `commitLock`, which it never releases: the process exits inside, and
        // a commit waiting behind it must not start.
        commitLock.withLock { _ in
            var running: [ChildProcess] = []
            var staged: [(stage: Stage, run: () -> Void)] = []
            var grace: TimeInterval = 0
            var what = ""
            let first = state.withLock { s -> Bool in
                guard s.cancelledSignal == nil else { return false }
                s.cancelledSignal = marker
                s.cleanupThread = pthread_self()
                running = Array(s.children.values)
                staged = s.cleanups.values.sorted { $0.stage.rawValue < $1.stage.rawValue }
                grace = s.gracePeriod
                what = s.operation
                return true
            }
            guard first else { return }

            Self.terminate(running, grace: grace)
            for cleanup in staged where cleanup.stage != .files { cleanup.run() }
            // The paths as they are now, not at the signal: a write that began while the children
            // were being stopped registered its file since.
            for path in state.withLock({ Array($0.paths.values) }) { FileSystem.removeTree(path) }
            for cleanup in staged where cleanup.stage == .files { cleanup.run() }
            let extra = state.withLock { $0.notes }.map { "; " + $0 }.joined()
            Console.err("pgkeep: \(headline(what)); \(Self.consequence(of: what))\(extra)\n")
            exit(exitCode)
        }
    }

    /// What an interrupted operation leaves behind, in words.
    static func consequence(of operation: String) -> String {
        switch operation {
        case "a backup", "a snapshot", "the cron job":
            return "temporary files removed; no backup was recorded for the database in progress"
        case "a restore":
            return "its transaction was rolled back (a --jobs restore keeps what it had restored)"
        case "a verify":
            return "scratch databases dropped; nothing was changed"
        case "a copy":
            return "the unfinished copy was dropped; the source was only read"
        case "a compare":
            return "nothing was changed"
        case "the daemon":
            return "a run in progress, if any, was stopped the way `pgkeep run` stops on SIGTERM"
        case "a prune":
            return "each backup it deleted went manifest first; the rest are untouched"
        default:
            return "temporary files removed"
        }
    }

    /// SIGTERM to each child's process group, up to `grace` seconds for all, then SIGKILL.
    static func terminate(_ children: [ChildProcess], grace: TimeInterval) {
        let group = DispatchGroup()
        for child in children {
            DispatchQueue.global().async(group: group) { child.terminate(grace: grace) }
        }
        _ = group.wait(timeout: .now() + grace + 2)
    }
}

/// Written once by `install()`, under `state`'s lock, before any handler can run; read by the handler only.
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1

private func pgkeepSignalHandler(_ sig: Int32) {
    var byte = UInt8(truncatingIfNeeded: sig)
    _ = write(signalPipeWriteEnd, &byte, 1)
}
