import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One running child (pg_dump, pg_restore, psql, docker, age, rclone, a hook), started the way
/// SwiftPM's process runner starts them: with posix_spawn, in a process group of its own (so
/// that stopping it stops its own children too: `script` running age, a hook's helpers), with
/// every signal at its default disposition (SIGPIPE included, which pgkeep itself ignores) and an
/// empty signal mask. It is registered with `Cancellation` before it starts, so Ctrl-C can never
/// miss it. A thread blocks in waitpid for it: waiting never polls.
///
/// stdout can go to a pipe the caller reads, be collected on a thread of its own (`.collect`, for
/// small outputs), go straight into a file descriptor, or nowhere; stderr is always read
/// concurrently on its own thread (reading the two pipes one after the other hangs once either
/// passes 64 KiB). Once the child has exited, its pipes are waited for a bounded time only: a
/// grandchild that keeps stderr open cannot hang pgkeep.
// The pid and the exit status are guarded by `state`; the pipe ends are set up in start() and
// afterwards only closed (idempotent, under `state`); the drains are confined to their threads.
public final class ChildProcess: @unchecked Sendable {
    /// Where the child's stdin comes from.
    public enum Input {
        case null, pipe
        case fileDescriptor(Int32)
    }
    /// Where the child's stdout goes.
    public enum Output {
        case null, pipe, collect
        case fileDescriptor(Int32)
    }

    public let command: Command
    private let input: Input
    private let output: Output
    private struct State {
        var pid: pid_t = 0
        var status: Int32?
        var stdinWrite: Int32 = -1
        var stdoutRead: Int32 = -1
    }
    private let state = Locked(State())
    private let exited = DispatchSemaphore(value: 0)
    private var stderr: Drain?
    private var stdout: Drain?
    private var cancelToken: Int?
    private var result: ProcessResult?

    /// How long pipes may stay open after the child exited (a grandchild holding them).
    public var pipeGrace: TimeInterval = 5
    /// Mask passwords in what the child wrote to stderr (off only for a test harness that must
    /// see the raw text to prove nothing leaked).
    public var redactsStderr = true

    public init(_ command: Command, stdin: Input = .null, stdout: Output = .null) {
        self.command = command
        self.input = stdin
        self.output = stdout
    }

    deinit {
        closeStdin()
        closeStdout()
        if let token = cancelToken { Cancellation.shared.unregister(token) }
    }

    /// The read end of the child's stdout (only with `.pipe`).
    public var stdoutDescriptor: Int32 { state.withLock { $0.stdoutRead } }
    /// The write end of the child's stdin (only with `.pipe`).
    public var stdinDescriptor: Int32 { state.withLock { $0.stdinWrite } }
    /// The child's pid (0 before it started); also its process group.
    public var pid: pid_t { state.withLock { $0.pid } }

    /// Starts the child. A missing executable is a preflight error naming it.
    public func start() throws {
        guard FileManager.default.isExecutableFile(atPath: command.executable) else {
            throw PGKeepError(
                .preflight, "cannot run \(command.executable): no such executable",
                hint: "install the PostgreSQL client tools or point --pg-bin at their directory")
        }
        // Registered first: a signal that arrives while the child starts still reaches it.
        cancelToken = Cancellation.shared.register(child: self)
        let pipes = try Pipes(input: input, output: output)
        let spawned: pid_t
        do {
            spawned = try Spawn.run(
                command, stdin: pipes.childStdin, stdout: pipes.childStdout, stderr: pipes.stderrWrite)
        } catch {
            pipes.closeAll()
            throw error
        }
        pipes.closeChildEnds()
        command.observer?.started()
        state.withLock {
            $0.pid = spawned
            $0.stdinWrite = pipes.stdinWrite
            $0.stdoutRead = pipes.stdoutRead
        }
        Thread { [self] in reap(spawned) }.start()
        // stderr keeps its last 256 KiB (the tail is what messages show); collected stdout is whole.
        stderr = Drain(fd: pipes.stderrRead, keepAtMost: 256 * 1024, name: "pgkeep-stderr")
        if case .collect = output {
            stdout = Drain(fd: pipes.stdoutRead, keepAtMost: nil, name: "pgkeep-stdout")
        }
        // A signal that came while the child was being started: it must not outlive pgkeep.
        if !Cancellation.shared.mayStartChildren { terminate(grace: 0) }
    }

    /// Blocks in waitpid until the child ends (never polls).
    private func reap(_ pid: pid_t) {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        state.withLock { $0.status = status }
        exited.signal()
    }

    /// Whether the child has not ended yet.
    public var isRunning: Bool { state.withLock { $0.pid != 0 && $0.status == nil } }

    /// Writes `text` to the child's stdin (a `.pipe`) and closes it.
    public func writeStdinAndClose(_ text: String) {
        _ = Data(text.utf8).withUnsafeBytes { FileSystem.writeUntilClosed(stdinDescriptor, $0) }
        closeStdin()
    }

    /// Closes our end of the child's stdin (EOF for the child).
    public func closeStdin() {
        state.withLock {
            if $0.stdinWrite >= 0 { close($0.stdinWrite) }
            $0.stdinWrite = -1
        }
    }

    /// Closes our end of the child's stdout; a child still writing gets EPIPE (or SIGPIPE).
    public func closeStdout() {
        // A collected stdout belongs to its drain thread.
        if case .collect = output { return }
        state.withLock {
            if $0.stdoutRead >= 0 { close($0.stdoutRead) }
            $0.stdoutRead = -1
        }
    }

    /// Sends `signal` to the child's whole process group.
    public func signalGroup(_ signal: Int32) {
        let pid = self.pid
        if pid > 0 { _ = killpg(pid, signal) }
    }

    /// Stops the child and its process group: SIGTERM, up to `grace` seconds, then SIGKILL.
    public func terminate(grace: TimeInterval = 3) {
        guard pid > 0 else { return }
        if isRunning {
            signalGroup(SIGTERM)
            if exited.wait(timeout: .now() + grace) == .success { exited.signal() }
        }
        // Whatever of the group is left (the leader, or grandchildren after it): SIGKILL.
        signalGroup(SIGKILL)
    }

    /// Waits up to `timeout` seconds for the child to exit; false if it still runs.
    public func waitForExit(timeout: TimeInterval) -> Bool {
        guard exited.wait(timeout: .now() + timeout) == .success else { return false }
        exited.signal()
        return true
    }

    /// Waits for the child, then for its output pipes (a bounded time), and returns how it ended.
    @discardableResult
    public func wait() -> ProcessResult {
        if let result { return result }
        exited.wait()
        exited.signal()
        let deadline = DispatchTime.now() + pipeGrace
        let err = stderr?.finish(by: deadline) ?? Data()
        let out = stdout?.finish(by: deadline) ?? Data()
        if let token = cancelToken {
            Cancellation.shared.unregister(token)
            cancelToken = nil
        }
        let status = state.withLock { $0.status } ?? 0
        let signaled = (status & 0x7f) != 0 && (status & 0x7f) != 0x7f
        let termination: Termination = signaled ? .signaled(status & 0x7f) : .exited((status >> 8) & 0xff)
        // What a child says is shown in messages: every password in it masked where it stands whole.
        let raw = String(decoding: err, as: UTF8.self)
        let said = redactsStderr ? Redaction.shared.applyToChildOutput(raw) : raw
        let r = ProcessResult(command: command, termination: termination, stderr: said, stdout: out)
        result = r
        command.observer?.ended(termination)
        return r
    }

    /// Runs a command to completion and returns its stdout and result (for small outputs).
    public static func capture(_ command: Command, stdin: Input = .null) throws -> (stdout: Data, result: ProcessResult)
    {
        let child = ChildProcess(command, stdin: stdin, stdout: .collect)
        try child.start()
        let result = child.wait()
        return (result.stdout, result)
    }
}

/// Reads a pipe to its end on a thread of its own.
// `buffer` (a Locked) is written by the draining thread and read by `finish`.
private final class Drain: @unchecked Sendable {
    private let buffer = Locked(Data())
    private let done = DispatchSemaphore(value: 0)

    init(fd: Int32, keepAtMost limit: Int?, name: String) {
        let thread = Thread { [self] in
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    buffer.withLock {
                        $0.append(contentsOf: chunk[0..<n])
                        if let limit, $0.count > limit { $0.removeFirst($0.count - limit / 2) }
                    }
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            close(fd)
            done.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Waits for EOF until `deadline` and returns what was read by then.
    func finish(by deadline: DispatchTime) -> Data {
        if done.wait(timeout: deadline) == .success { done.signal() }
        return buffer.current
    }
}
