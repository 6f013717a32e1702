import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One running child (pg_dump, pg_restore, psql, docker). stdout can go to a pipe the caller
/// reads, be collected on a thread of its own (`.collect`, for small outputs), go straight into a
/// file descriptor, or nowhere; stderr is always read concurrently on its own thread (reading the
/// two pipes one after the other hangs once either passes 64 KiB).
/// While it runs, the child is registered with `Cancellation`, so Ctrl-C stops it.
// Configured and started on one thread; afterwards its pipes are only closed (idempotent) and
// Process is thread-safe for isRunning, terminate and waiting.
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
    private let process = Process()
    private var stdoutPipe: Pipe?
    private var collecting = false
    private var stdinPipe: Pipe?
    private let stderrPipe = Pipe()
    private var stderr: Drain?
    private var stdout: Drain?
    private var cancelToken: Int?
    private var result: ProcessResult?

    public init(_ command: Command, stdin: Input = .null, stdout: Output = .null) {
        self.command = command
        process.executableURL = URL(fileURLWithPath: command.executable)
        process.arguments = command.arguments
        process.environment = command.environment
        switch stdin {
        case .null: process.standardInput = FileHandle.nullDevice
        case .pipe:
            let p = Pipe()
            stdinPipe = p
            process.standardInput = p
        case .fileDescriptor(let fd): process.standardInput = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
        }
        switch stdout {
        case .null: process.standardOutput = FileHandle.nullDevice
        case .pipe, .collect:
            let p = Pipe()
            stdoutPipe = p
            process.standardOutput = p
            if case .collect = stdout { collecting = true }
        case .fileDescriptor(let fd): process.standardOutput = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
        }
        process.standardError = stderrPipe
    }

    /// The read end of the child's stdout (only with `.pipe`).
    public var stdoutDescriptor: Int32 { stdoutPipe!.fileHandleForReading.fileDescriptor }
    /// The write end of the child's stdin (only with `.pipe`).
    public var stdinDescriptor: Int32 { stdinPipe!.fileHandleForWriting.fileDescriptor }

    /// Starts the child. A missing executable is a preflight error naming it.
    public func start() throws {
        guard FileManager.default.isExecutableFile(atPath: command.executable) else {
            throw PGKeepError(
                .preflight, "cannot run \(command.executable): no such executable",
                hint: "install the PostgreSQL client tools or point --pg-bin at their directory")
        }
        do {
            try process.run()
        } catch {
            throw PGKeepError(.preflight, "cannot start \(command.executable): \(error)", command: command.description)
        }
        cancelToken = Cancellation.shared.register(process: process)
        // Bigger pipes: fewer wake-ups per megabyte on the hot paths (best effort).
        // F_SETPIPE_SZ (1031), which Glibc does not export to Swift.
        let setPipeSize: Int32 = 1031
        if let p = stdoutPipe { _ = fcntl(p.fileHandleForReading.fileDescriptor, setPipeSize, 1 << 20) }
        if let p = stdinPipe { _ = fcntl(p.fileHandleForWriting.fileDescriptor, setPipeSize, 1 << 20) }
        // stderr keeps its last 256 KiB (the tail is what messages show); collected stdout is whole.
        stderr = Drain(
            fd: stderrPipe.fileHandleForReading.fileDescriptor, keepAtMost: 256 * 1024, name: "pgkeep-stderr")
        if collecting, let p = stdoutPipe {
            stdout = Drain(fd: p.fileHandleForReading.fileDescriptor, keepAtMost: nil, name: "pgkeep-stdout")
        }
    }

    /// Whether the child has not been reaped yet.
    public var isRunning: Bool { process.isRunning }

    /// Writes `text` to the child's stdin (a `.pipe`) and closes it.
    public func writeStdinAndClose(_ text: String) {
        _ = Data(text.utf8).withUnsafeBytes { FileSystem.writeUntilClosed(stdinDescriptor, $0) }
        closeStdin()
    }

    /// Closes our end of the child's stdin (EOF for the child).
    public func closeStdin() {
        try? stdinPipe?.fileHandleForWriting.close()
    }

    /// Closes our end of the child's stdout; a child still writing gets EPIPE.
    public func closeStdout() {
        try? stdoutPipe?.fileHandleForReading.close()
    }

    /// Stops the child: SIGTERM, a short wait, then SIGKILL.
    public func terminate(grace: TimeInterval = 3) {
        Cancellation.terminate([process], grace: grace)
    }

    /// Waits for the child and its stderr, and returns how it ended.
    @discardableResult
    public func wait() -> ProcessResult {
        if let result { return result }
        // Foundation's waitUntilExit spins a run loop in 50 ms steps, so every child would cost up
        // to 50 ms after it ended; isRunning is updated as soon as the child is reaped.
        while process.isRunning { usleep(500) }
        process.waitUntilExit()
        let err = stderr?.finish() ?? Data()
        let out = stdout?.finish() ?? Data()
        if let token = cancelToken { Cancellation.shared.unregister(token) }
        let termination: Termination =
            process.terminationReason == .uncaughtSignal
            ? .signaled(process.terminationStatus) : .exited(process.terminationStatus)
        let r = ProcessResult(
            command: command, termination: termination, stderr: String(decoding: err, as: UTF8.self), stdout: out)
        result = r
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
// `buffer` is written by the draining thread only and read after `done` signals its end.
private final class Drain: @unchecked Sendable {
    private var buffer = Data()
    private let done = DispatchSemaphore(value: 0)

    init(fd: Int32, keepAtMost limit: Int?, name: String) {
        let thread = Thread { [self] in
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    buffer.append(contentsOf: chunk[0..<n])
                    if let limit, buffer.count > limit { buffer.removeFirst(buffer.count - limit / 2) }
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            done.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Waits for EOF and returns what was read.
    func finish() -> Data {
        done.wait()
        return buffer
    }
}
