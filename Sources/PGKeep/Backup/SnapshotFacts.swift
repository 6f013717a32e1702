import Foundation

/// What the backup's own snapshot says of the data, for its manifest: exact row counts
/// (`--row-counts`), and with `--fingerprint` each table's checksum, the sequences and the large
/// objects. Row counts alone are taken before pg_dump starts (their locks are held until pg_dump
/// has its own); a fingerprint is taken while pg_dump dumps, in a thread of its own, from the same
/// exported snapshot, so it costs a second scan of the data but no time after the dump.
final class SnapshotFacts: @unchecked Sendable {
    // `session` is used by one thread at a time: the fingerprint's, or the caller's after `finish`.
    private let session: SnapshotCounts?
    private let fingerprinting: Bool
    private var counts: [String: Int]?
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)
    private let taken = Locked<Result<Manifest.Fingerprint, Error>?>(nil)

    /// pg_dump's `--snapshot`, when there is a session.
    var pgDumpArguments: [String] { session.map { ["--snapshot=\($0.snapshot)"] } ?? [] }

    init(options: BackupOptions, source: DumpSource, database: String) throws {
        fingerprinting = options.fingerprint
        session = options.rowCounts || options.fingerprint ? try source.snapshotCounts(database: database) : nil
    }

    /// Before pg_dump starts: the row counts, or the fingerprint's thread.
    func start() throws {
        guard let session else { return }
        guard fingerprinting else {
            counts = try session.count()
            return
        }
        try session.lockTables()
        let thread = Thread { [self] in
            taken.withLock { $0 = Result { try self.session!.fingerprint() } }
            done.signal()
        }
        thread.name = "pgkeep-fingerprint"
        thread.stackSize = 1 << 20
        self.thread = thread
        thread.start()
    }

    /// After pg_dump finished: the counts and the fingerprint (waiting for it if it is not done).
    func finish() throws -> (rowCounts: [String: Int]?, fingerprint: Manifest.Fingerprint?) {
        guard fingerprinting, thread != nil else { return (counts, nil) }
        done.wait()
        thread = nil
        let fingerprint = try taken.current!.get()
        return (try session?.countsOf(fingerprint), fingerprint)
    }

    /// Ends the snapshot's transaction; a fingerprint still running is waited for first (its
    /// session cannot be used by two threads).
    func close() {
        if thread != nil {
            // The dump failed: the fingerprint is not needed, stop its scan instead of waiting.
            session?.cancel()
            done.wait()
        }
        session?.close()
    }
}
