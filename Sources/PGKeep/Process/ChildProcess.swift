import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One running child (pg_dump, pg_restore, psql, docker). stdout can go to a pipe the caller
/// reads, straight into a file descriptor, or nowhere; stderr is always read concurrently on its
/// own thread (reading the two pipes one after the other hangs once stderr passes 64 KiB).
/// While it runs, the child is registered with `Cancellation`, so Ctrl-C stops it.
public final class ChildProcess: @unchecked Sendable {
    /// Where the child's stdin comes from.
    public enum Input { case null, pipe, fileDescriptor(Int32) }
    /// Where the child's stdout goes.
    public enum Output { case null, pipe, fileDescriptor(Int32) }

    public let command: Command
    private let process = Process()
    private var stdoutPipe: Pipe?
    private var stdinPipe: Pipe?
    private let stderrPipe = Pipe()
    private var stderrThread: Thread?
    private let stderrDone = DispatchSemaphore(value: 0)
    private var stderrBuffer = Data()
    private let stderrLimit = 256 * 1024
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
            let p = Pipe(); stdinPipe = p; process.standardInput = p
        case .fileDescriptor(let fd): process.standardInput = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
        }
        switch stdout {
        case .null: process.standardOutput = FileHandle.nullDevice
        case .pipe:
            let p = Pipe(); stdoutPipe = p; process.standardOutput = p
        case .fileDescriptor(let fd): process.standardOutput = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
        }
        process.standardError = stderrPipe
    }

    /// The read end of the child's stdout (only with `.pipe`).
    public var stdoutDescriptor: Int32 { stdoutPipe!.fileHandleForReading.fileDescriptor }
    /// The write end of the child's stdin (only with `.pipe`).
    public var stdinDescriptor: Int32 { stdinPipe!.fileHandleForWriting.fileDescriptor }
    public var processIdentifier: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Starts the child. A missing executable is a preflight error naming it.
    public func start() throws {
        guard FileManager.default.isExecutableFile(atPath: command.executable) else {
            throw PGKeepError(.preflight, "cannot run \(command.executable): no such executable",
                              hint: "install the PostgreSQL client tools or point --pg-bin at their directory")
        }
        do {
            try process.run()
        } catch {
            throw PGKeepError(.preflight, "cannot start \(command.executable): \(error)", command: command.description)
        }
        cancelToken = Cancellation.shared.register(process: process)
        // Bigger pipes: fewer wake-ups per megabyte on the hot paths (best effort).
        if let p = stdoutPipe { _ = fcntl(p.fileHandleForReading.fileDescriptor, 1031 /* F_SETPIPE_SZ */, 1 << 20) }
        if let p = stdinPipe { _ = fcntl(p.fileHandleForWriting.fileDescriptor, 1031 /* F_SETPIPE_SZ */, 1 << 20) }
        let fd = stderrPipe.fileHandleForReading.fileDescriptor
        let thread = Thread { [self] in
            var chunk = [UInt8](repeating: 0, count: 16384)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    stderrBuffer.append(contentsOf: chunk[0..<n])
                    if stderrBuffer.count > stderrLimit {
                        stderrBuffer.removeFirst(stderrBuffer.count - stderrLimit / 2)
                    }
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            stderrDone.signal()
        }
        thread.name = "pgkeep-stderr"
        stderrThread = thread
        thread.start()
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
        process.waitUntilExit()
        stderrDone.wait()
        if let token = cancelToken { Cancellation.shared.unregister(token) }
        let termination: Termination = process.terminationReason == .uncaughtSignal
            ? .signaled(process.terminationStatus) : .exited(process.terminationStatus)
        let r = ProcessResult(command: command, termination: termination,
                              stderr: String(decoding: stderrBuffer, as: UTF8.self))
        result = r
        return r
    }

    /// Runs a command to completion and returns its stdout and result (for small outputs).
    public static func capture(_ command: Command, stdin: Input = .null) throws -> (stdout: Data, result: ProcessResult) {
        let child = ChildProcess(command, stdin: stdin, stdout: .pipe)
        try child.start()
        let data = child.stdoutPipe!.fileHandleForReading.readDataToEndOfFile()
        let result = child.wait()
        return (data, result)
    }
}
