import Foundation

/// A pg_restore fed an archive on stdin while pgkeep reads the file: `pg_restore --list` reads
/// the header and table of contents and exits (feeding then stops quietly at EPIPE);
/// `pg_restore --file=/dev/null` reads every entry and data block.
final class PGRestoreReader {
    private let child: ChildProcess
    /// False once pg_restore has stopped reading (it has the table of contents).
    private(set) var accepting = true

    init(command: Command) throws {
        child = ChildProcess(command, stdin: .pipe, stdout: .collect)
        try child.start()
    }

    func feed(_ chunk: UnsafeRawBufferPointer) {
        guard accepting else { return }
        if !FileSystem.writeUntilClosed(child.stdinDescriptor, chunk) {
            accepting = false  // EPIPE: pg_restore has read all it needs
            child.closeStdin()
        }
    }

    /// Closes stdin, waits, and returns the number of TOC entries listed.
    func finish() throws -> Int {
        child.closeStdin()
        let result = child.wait()
        guard result.succeeded else {
            throw result.failure(
                "verification failed: pg_restore --list cannot read the archive",
                hint: "the archive is damaged; the earlier backups are untouched")
        }
        // An empty database has no entries; pg_restore reading the header and TOC is the check.
        return Verifier.tocEntryCount(String(decoding: result.stdout, as: UTF8.self))
    }

    func abandon() {
        child.closeStdin()
        child.terminate(grace: 1)
        child.wait()
    }
}
