import Foundation
import PGKeep

/// Prints what a backup run did: one line per database on stderr, a live progress line only
/// when stderr is a terminal, a JSON summary on stdout with --json, nothing on success with --quiet.
// The live line's state is in `line` (a Locked); the rest is set before the job starts.
final class BackupReporter: @unchecked Sendable {
    let quiet: Bool
    let json: Bool
    private let live: Bool
    /// The live line: when it was last drawn, and whether it is on the screen.
    private let line = Locked((lastDraw: Date.distantPast, shown: false))
    /// `run` prints failures in its one final block; they still go to the log file at once.
    var holdFailures = false

    init(quiet: Bool, json: Bool) {
        self.quiet = quiet
        self.json = json
        live = !quiet && isatty(STDERR_FILENO) == 1
    }

    func progress(_ p: BackupProgress) {
        guard live else { return }
        line.withLock { line in
            let now = Date()
            guard now.timeIntervalSince(line.lastDraw) >= 0.25 else { return }
            line.lastDraw = now
            let rate = p.elapsed > 0 ? Double(p.bytesDumped) / p.elapsed : 0
            Console.err(
                "\r\u{1B}[2K\(p.database): \(Self.size(p.bytesDumped)) dumped, \(Self.size(p.bytesWritten)) written, "
                    + "\(Self.size(Int64(rate)))/s")
            line.shown = true
        }
    }

    private func clearLine() {
        line.withLock { line in
            if line.shown {
                Console.err("\r\u{1B}[2K")
                line.shown = false
            }
        }
    }

    func recorded(_ record: BackupRecord) {
        clearLine()
        let m = record.manifest
        var details = [Self.size(m.size), String(format: "%.1f s", m.durationSeconds)]
        // The rate is of the dump stream (before compression); a directory backup has none.
        if let dumped = m.uncompressedSize, m.durationSeconds > 0 {
            details.append(String(format: "%.1f MB/s", Double(dumped) / m.durationSeconds / 1_000_000))
        }
        let line = "pgkeep: \(m.database): \(record.path) (\(details.joined(separator: ", ")))"
        if quiet { Output.record(line) } else { printStderr(line) }
        Self.shrink(m)
    }

    /// A shrink is said plainly, even with --quiet: the backup is kept, and what it lost.
    static func shrink(_ m: Manifest) {
        guard let found = m.anomalies, !found.isEmpty else { return }
        let head =
            m.shrinkAccepted == true
            ? "pgkeep: \(m.database): shrink accepted (--accept-shrink): "
            : "pgkeep: ANOMALY: \(m.database): the backup shrank; it is kept, and the last normal backup is kept "
                + "with it until a normal one follows or `pgkeep accept` says the change was intended: "
        printStderr(head + found.joined(separator: "; "))
    }

    func failed(_ database: String, _ error: PGKeepError) {
        clearLine()
        if holdFailures {
            Output.record("pgkeep: error: \(database): " + error.description)
            return
        }
        printError(
            PGKeepError(
                error.kind, "\(database): " + error.message, command: error.command, stderrTail: error.stderrTail,
                hint: error.hint))
    }

    /// Reports the job's progress, records and failures; with `prunes`, also its uploads and
    /// prunes (`named`: each prune line names its database, as `run` prints them).
    func attach(to job: BackupJob, prunes: Bool = true, named: Bool = false) {
        job.onProgress = progress
        job.onRecorded = recorded
        job.onFailure = failed
        job.onWarning = { printStderr("pgkeep: warning: " + $0) }
        guard prunes else { return }
        let json = self.json
        job.onUploaded = { _, url in printInfo("pgkeep: uploaded and checked \(url)") }
        job.onPruned = { r in
            let kept = "kept \(r.items.count - r.deleted), deleted \(r.deleted)"
            if named {
                printInfo("pgkeep: pruned \(r.items.first?.entry.manifest.database ?? ""): " + kept)
            } else if !json {
                printInfo("pgkeep: pruned: " + kept)
            }
        }
    }

    func finish(_ summary: BackupJob.Summary) {
        guard json else { return }
        let backups = summary.records.map { r in
            JSON.Backup(
                path: r.path, manifest: r.manifestPath, database: r.manifest.database, time: r.manifest.startedAt,
                format: r.manifest.format.rawValue, size: r.manifest.size, sha256: r.manifest.sha256,
                durationSeconds: r.manifest.durationSeconds, anomalies: r.manifest.anomalies ?? [],
                shrinkAccepted: r.manifest.shrinkAccepted ?? false)
        }
        let failures = summary.failures.map {
            JSON.Failure(database: $0.database, error: Redaction.shared.apply($0.error.message))
        }
        printJSON(JSON(backups: backups, failures: failures, ok: summary.failures.isEmpty))
    }

    /// The JSON output: what was recorded and what failed.
    struct JSON: Encodable {
        var backups: [Backup]
        var failures: [Failure]
        var ok: Bool

        struct Backup: Encodable {
            var path: String
            var manifest: String
            var database: String
            var time: String
            var format: String
            var size: Int64
            var sha256: String
            var durationSeconds: Double
            var anomalies: [String]
            var shrinkAccepted: Bool

            enum CodingKeys: String, CodingKey {
                case path, manifest, database, time, format, size, sha256, anomalies
                case durationSeconds = "duration_seconds"
                case shrinkAccepted = "shrink_accepted"
            }
        }

        struct Failure: Encodable {
            var database: String
            var error: String
        }
    }

    static func size(_ bytes: Int64) -> String { ByteCount.text(bytes) }
}
