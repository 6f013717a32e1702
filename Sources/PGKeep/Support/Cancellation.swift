import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What SIGINT and SIGTERM undo: running children are stopped (SIGTERM, a short wait, SIGKILL)
/// and temporary paths are removed before pgkeep exits with 128+signal.
/// Modelled on SwiftPM's Cancellator.
// Every mutable property is read and written under `lock` (gracePeriod: set before any signal).
public final class Cancellation: @unchecked Sendable {
    public static let shared = Cancellation()

    private let lock = NSLock()
    private var processes: [Int: Process] = [:]
    private var paths: [Int: String] = [:]
    private var cleanups: [Int: () -> Void] = [:]
    private var nextToken = 0
    private var installed = false
    private var cancelledSignal: Int32?

    /// The grace period between SIGTERM and SIGKILL for children.
    public var gracePeriod: TimeInterval = 3

    private init() {}

    /// Installs the SIGINT/SIGTERM handlers once; also ignores SIGPIPE so that a reader that
    /// goes away surfaces as EPIPE on write instead of killing pgkeep.
    ///
    /// The handlers are real functions, not SIG_IGN plus a dispatch source: an ignored signal
    /// stays ignored across exec, and pg_dump would then ignore our SIGTERM. A handled signal
    /// is reset to its default in the child. SIGPIPE, being ignored here, stays ignored in
    /// every child too (Foundation's Process does not reset it): a child whose reader goes away
    /// gets EPIPE from write(2) rather than dying of SIGPIPE. The handler only writes the signal
    /// number to a pipe; a thread reads it and does the work outside signal context.
    public func install() {
        lock.lock()
        defer { lock.unlock() }
        signal(SIGPIPE, SIG_IGN)
        guard !installed else { return }
        installed = true
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
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

    /// The signal that stopped this run, if any.
    public var signalReceived: Int32? {
        lock.lock()
        defer { lock.unlock() }
        return cancelledSignal
    }

    public func register(process: Process) -> Int { add { $0.processes[$1] = process } }
    public func register(path: String) -> Int { add { $0.paths[$1] = path } }
    public func register(cleanup: @escaping () -> Void) -> Int { add { $0.cleanups[$1] = cleanup } }

    public func unregister(_ token: Int) {
        lock.lock()
        defer { lock.unlock() }
        processes[token] = nil
        paths[token] = nil
        cleanups[token] = nil
    }

    private func add(_ body: (Cancellation, Int) -> Void) -> Int {
        lock.lock()
        defer { lock.unlock() }
        nextToken += 1
        body(self, nextToken)
        return nextToken
    }

    /// Stops every registered child, removes temporary paths, runs cleanups and exits.
    public func cancel(signal sig: Int32) {
        lock.lock()
        if cancelledSignal != nil {
            lock.unlock()
            return
        }
        cancelledSignal = sig
        let procs = Array(processes.values)
        let tempPaths = Array(paths.values)
        let extra = Array(cleanups.values)
        lock.unlock()

        Self.terminate(procs, grace: gracePeriod)
        for path in tempPaths { FileSystem.removeTree(path) }
        for cleanup in extra { cleanup() }
        let name = sig == SIGINT ? "SIGINT" : "SIGTERM"
        Console.err("pgkeep: interrupted by \(name); temporary files removed, no backup was recorded\n")
        exit(128 + sig)
    }

    /// SIGTERM, wait up to `grace` seconds, then SIGKILL whatever still runs.
    static func terminate(_ procs: [Process], grace: TimeInterval) {
        let running = procs.filter { $0.isRunning }
        for p in running { kill(p.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(grace)
        while Date() < deadline && running.contains(where: { $0.isRunning }) {
            usleep(20_000)
        }
        for p in running where p.isRunning { kill(p.processIdentifier, SIGKILL) }
    }
}

/// Written once by `install()`, under its lock, before any handler can run; read by the handler only.
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1

private func pgkeepSignalHandler(_ sig: Int32) {
    var byte = UInt8(truncatingIfNeeded: sig)
    _ = write(signalPipeWriteEnd, &byte, 1)
}
