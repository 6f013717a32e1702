import Foundation

/// One command's monitoring: `start` when it begins; per database, success, failure or anomaly
/// (to the webhook, ntfy, the chats and email); at the end, the run's outcome, the worst it saw
/// (to healthchecks, with the log's tail, and Uptime Kuma; to the others too when they heard
/// nothing per database, e.g. a run that failed before any database). Then it waits for the deliveries,
/// bounded by their timeout.
// Mutable state is in `state` (a Locked); everything else is set in init.
public final class RunMonitor: @unchecked Sendable {
    let delivery: MonitorDelivery
    let command: String
    let database: String?
    private let state = Locked((worst: MonitorEvent.State.success, perDatabase: false, errors: [String]()))
    private let startTime = Date()

    public init(
        _ targets: MonitorTargets, command: String, database: String? = nil,
        warn: @escaping @Sendable (String) -> Void
    ) {
        delivery = MonitorDelivery(targets, warn: warn)
        self.command = command
        self.database = database
    }

    public func started() {
        delivery.send(MonitorEvent(state: .start, command: command, database: database)) { _ in true }
    }

    /// A database's verified backup: success, or anomaly when it shrank (and was not accepted).
    public func recorded(_ manifest: Manifest, path: String) {
        let anomalous = manifest.isAnomalous
        var event = MonitorEvent(
            state: anomalous ? .anomaly : .success, command: command, database: manifest.database, path: path,
            size: manifest.size, durationSeconds: manifest.durationSeconds,
            error: anomalous ? manifest.anomalies?.joined(separator: "; ") : nil)
        event.log = LogTail.shared.text()
        note(event.state, error: anomalous ? "\(manifest.database): \(event.error ?? "")" : nil)
        delivery.send(event) { $0.hearsEachDatabase }
    }

    public func failed(database: String, error: String) {
        var event = MonitorEvent(state: .failure, command: command, database: database, error: error)
        event.log = LogTail.shared.text()
        note(.failure, error: "\(database): \(error)")
        delivery.send(event) { $0.hearsEachDatabase }
    }

    private func note(_ outcome: MonitorEvent.State, error: String?) {
        state.withLock {
            $0.perDatabase = true
            $0.worst = max($0.worst, outcome)
            if let error { $0.errors.append(error) }
        }
    }

    /// The run's outcome (`error`: it failed as a whole), then waits for the deliveries.
    public func finished(error: String? = nil) {
        let seen = state.current
        let outcome = error != nil ? MonitorEvent.State.failure : seen.worst
        var event = MonitorEvent(
            state: outcome, command: command, database: database,
            durationSeconds: (Date().timeIntervalSince(startTime) * 10).rounded() / 10,
            error: error ?? (seen.errors.isEmpty ? nil : seen.errors.joined(separator: "; ")))
        // An error that ends the run is printed after this: the body carries it at its end.
        event.log = LogTail.shared.text() + (error.map { "pgkeep: error: \($0)\n" } ?? "")
        delivery.send(event) { !$0.hearsEachDatabase || !seen.perDatabase }
        delivery.wait()
    }
}

/// The tail of what this run logged (what `--log-file` gets, secrets masked), at most 100 kB:
/// the body healthchecks gets with the run's outcome.
public final class LogTail: Sendable {
    public static let shared = LogTail()
    static let limit = 100_000
    private let buffer = Locked("")

    public func append(_ text: String) {
        let stamped = LogFile.stamped(text)
        buffer.withLock {
            $0 += stamped
            if $0.utf8.count > 2 * Self.limit { $0 = String(decoding: $0.utf8.suffix(Self.limit), as: UTF8.self) }
        }
    }

    public func text() -> String {
        String(decoding: buffer.current.utf8.suffix(Self.limit), as: UTF8.self)
    }
}
