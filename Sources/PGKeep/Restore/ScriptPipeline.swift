import Foundation

/// A restore script run by psql as one transaction that stops at the first error. The script
/// comes from a command that writes it (`pg_restore --file=-`, fed the decompressed backup when
/// `feedInput`) or from a SQL backup read here; it passes through `ScriptFilter` into psql's
/// stdin in one hop.
///
/// The transaction is pgkeep's, not psql's: pgkeep writes `BEGIN;` first and `COMMIT;` last, and
/// only after every check passed (the whole input read, a streamed backup's sha256 matched, the
/// script's writer exited 0); the script's own transaction lines are taken out (`ScriptFilter`).
/// psql runs without --single-transaction, which would commit at the end of its input. So when
/// the input ends for any other reason (pgkeep failed, was killed or crashed), psql disconnects
/// inside an open transaction and the server rolls it back: the target is left as it was.
struct ScriptPipeline {
    /// Where the script comes from.
    enum Source {
        case command(Command, feedInput: Bool)
        case file(RestoreInput)
    }

    /// psql, reading the script on stdin.
    let psql: Command
    /// The backup, decompressed into a script command's stdin with `feedInput`.
    let input: RestoreInput
    /// Tolerate DROPs of objects that do not exist (`--clean`).
    let tolerantDrops: Bool

    /// The process whose result reports the restore, and the row counts of the script's COPY
    /// statements as psql reported them (nil if they do not line up with the script's).
    struct Result {
        var process: ProcessResult
        var copied: [String: Int]?
        /// When the data and the post-data began (see `ScriptFilter`).
        var marks: (data: Date?, postData: Date?) = (nil, nil)
    }

    /// How the run ends: psql is let finish (its input closed) or stopped; one place acts on it.
    private enum Ending {
        case finish
        case stop(Error)
        case stopReporting(ProcessResult)
    }

    func run(_ source: Source) throws -> Result {
        let child = ChildProcess(psql, stdin: .pipe, stdout: .collect)
        try child.start()
        var filter = ScriptFilter(tolerantDrops: tolerantDrops, lockTimeout: SessionBounds.current.lockTimeout)
        let sink = PsqlInput(fd: child.stdinDescriptor)
        sink.send(Self.begin)
        let (script, feedError) = produce(source, filter: &filter, sink: sink)
        let ending: Ending
        if let feedError, !sink.gone {
            // The input was not read whole (or, streamed, did not match its manifest).
            ending = .stop(feedError)
        } else if let script, !script.succeeded, !sink.gone {
            // pg_restore died partway: its script is incomplete.
            ending = .stopReporting(script)
        } else {
            ending = .finish
        }
        switch ending {
        case .stop(let error):
            child.terminate(grace: 2)
            child.wait()
            throw error
        case .stopReporting(let failed):
            child.terminate(grace: 2)
            child.wait()
            return Result(process: failed, copied: nil)
        case .finish:
            filter.finish(emit: sink.send)
            // Every check has passed: only now may the restore become permanent.
            sink.send(Self.commit)
            child.closeStdin()
            let result = child.wait()
            // psql's error first: when psql stops, pg_restore only sees a broken pipe.
            if !result.succeeded { return Result(process: result, copied: nil) }
            if let script, !script.succeeded { return Result(process: script, copied: nil) }
            return Result(
                process: result, copied: Self.copyCounts(result, tables: filter.copyTables),
                marks: (filter.dataStarted, filter.postDataStarted))
        }
    }

    /// Streams the script through the filter into psql; returns the script command's result
    /// (nil for a file) and the error of reading the input, if any.
    private func produce(_ source: Source, filter: inout ScriptFilter, sink: PsqlInput) -> (ProcessResult?, Error?) {
        switch source {
        case .file(let input):
            do {
                try Self.read(input) { chunk in
                    filter.process(chunk, emit: sink.send)
                    return !sink.gone
                }
                return (nil, nil)
            } catch {
                return (nil, error)
            }
        case .command(let command, let feedInput):
            let script = ChildProcess(command, stdin: feedInput ? .pipe : .null, stdout: .pipe)
            do { try script.start() } catch { return (nil, error) }
            let feeding = RestoreFeed.start(feedInput ? input : nil, to: script)
            // Once psql is gone nothing more can be restored: stop reading (pg_restore gets EPIPE).
            FileSystem.readChunks(script.stdoutDescriptor) { chunk in
                filter.process(chunk, emit: sink.send)
                return !sink.gone
            }
            script.closeStdout()
            let fedError = feeding.wait()
            let result = script.wait()
            // A feeder that failed because psql stopped reading is not the error to report.
            return (result, sink.gone ? nil : fedError)
        }
    }

    /// A SQL backup, decompressed here when it is compressed, chunk by chunk while `body` returns true.
    private static func read(_ input: RestoreInput, _ body: (UnsafeRawBufferPointer) -> Bool) throws {
        if input.kind.codec != nil {
            try input.decompress(body)
            return
        }
        let fd = Foundation.open(input.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PGKeepError(.backup, "cannot open \(input.path): \(errnoText())") }
        defer { close(fd) }
        let (sha256, size) = try hashChunks(of: fd, path: input.path, hashing: input.checkedAsRead) { _ = body($0) }
        if input.checkedAsRead { try input.requireMatch(sha256: sha256, size: size) }
    }

    static let begin = "BEGIN;\n"
    static let commit = "\nCOMMIT;\n"

    /// psql prints a command tag per statement; "COPY n" is the rows a COPY inserted.
    private static func copyCounts(_ psql: ProcessResult, tables: [String]) -> [String: Int]? {
        let counts = String(decoding: psql.stdout, as: UTF8.self).split(separator: "\n")
            .compactMap { $0.hasPrefix("COPY ") ? Int($0.dropFirst(5)) : nil }
        guard counts.count == tables.count else { return nil }
        var byTable: [String: Int] = [:]
        for (table, n) in zip(tables, counts) { byTable[table, default: 0] += n }
        return byTable
    }
}

/// psql's stdin; `gone` once psql stopped reading (it failed, or finished early).
private final class PsqlInput {
    let fd: Int32
    private(set) var gone = false

    init(fd: Int32) { self.fd = fd }

    func send(_ chunk: UnsafeRawBufferPointer) {
        if !gone { gone = !FileSystem.writeUntilClosed(fd, chunk) }
    }

    func send(_ text: String) {
        Data(text.utf8).withUnsafeBytes { send($0) }
    }
}

/// Decompressing a backup into a child's stdin.
enum RestoreFeed {
    /// Decompresses the (gzip or zstd) input into the child's stdin; stops quietly if the child stops
    /// reading (its exit status tells why).
    static func feed(_ input: RestoreInput, to child: ChildProcess) throws {
        defer { child.closeStdin() }
        let stdin = child.stdinDescriptor
        try input.decompress { FileSystem.writeUntilClosed(stdin, $0) }
    }

    /// Feeds `input` (nil: nothing to feed) to the child on a thread of its own while the caller
    /// reads the child's output; `wait()` returns the feeder's error, if any.
    static func start(_ input: RestoreInput?, to child: ChildProcess) -> Waiter {
        let feeder = Locked<Error?>(nil)
        let fed = DispatchSemaphore(value: 0)
        if let input {
            Thread {
                do { try feed(input, to: child) } catch { feeder.withLock { $0 = error } }
                fed.signal()
            }.start()
        } else {
            fed.signal()
        }
        return Waiter {
            fed.wait()
            return feeder.current
        }
    }

    /// The end of a feed: `wait()` blocks until the feeder is done and returns its error.
    struct Waiter {
        let wait: () -> Error?
    }
}
