import Foundation

/// One thing a monitoring target hears about.
public struct MonitorEvent: Sendable {
    public enum State: String, Sendable, CaseIterable, Comparable {
        case start, success, failure, anomaly

        public static func < (a: State, b: State) -> Bool { a.rank < b.rank }
        /// How bad: start < success < anomaly < failure (a run's outcome is the worst it saw).
        var rank: Int {
            switch self {
            case .start: 0
            case .success: 1
            case .anomaly: 2
            case .failure: 3
            }
        }
    }

    public var state: State
    /// What ran: "backup", "run", "prune", "verify", "snapshot".
    public var command: String
    public var database: String?
    public var path: String?
    public var size: Int64?
    public var durationSeconds: Double?
    public var error: String?
    /// What the run printed so far (the log's tail), for healthchecks' request body.
    public var log: String = ""

    public init(
        state: State, command: String, database: String? = nil, path: String? = nil, size: Int64? = nil,
        durationSeconds: Double? = nil, error: String? = nil
    ) {
        self.state = state
        self.command = command
        self.database = database
        self.path = path
        self.size = size
        self.durationSeconds = durationSeconds
        self.error = error
    }

    /// A one-line summary (ntfy's text, Uptime Kuma's msg).
    public var summary: String {
        switch state {
        case .start: return title
        case .success: return title + (path.map { ": \($0)" } ?? "")
        case .failure, .anomaly: return title + (error.map { ": \($0)" } ?? "")
        }
    }

    /// What happened, without the details: "pgkeep: backup of shop FAILED" (a chat message's
    /// heading, an email's subject).
    public var title: String { "pgkeep: " + headline }

    /// The title without "pgkeep: " ("backup of shop FAILED"), for a subject with a prefix of its
    /// own. One line: a database name's control characters are spaces here.
    public var headline: String {
        let what = database.map { "\(command) of \(MailMessage.headerText($0))" } ?? command
        switch state {
        case .start: return "\(what) started"
        case .success: return "\(what) succeeded"
        case .failure: return "\(what) FAILED"
        case .anomaly: return "\(what): ANOMALY"
        }
    }

    /// The error's first lines (at most `lines`, `characters` in all), for a chat message: the
    /// whole of it is in the log.
    public func errorHead(lines: Int = 10, characters: Int = 1500) -> String? {
        guard let error, !error.isEmpty else { return nil }
        let all = error.split(separator: "\n", omittingEmptySubsequences: false)
        var head = all.prefix(lines).joined(separator: "\n")
        var cut = all.count > lines
        if head.count > characters {
            head = String(head.prefix(characters))
            cut = true
        }
        return cut ? head + "\n…" : head
    }

    /// The facts a message lists, in order, those the event has: database, host, size, duration,
    /// path. Values are one line each (control characters become spaces); each format escapes them.
    public func facts(host: String) -> [(name: String, value: String)] {
        facts(rawHost: host).map { ($0.name, MailMessage.headerText($0.value)) }
    }

    private func facts(rawHost host: String) -> [(name: String, value: String)] {
        var out: [(name: String, value: String)] = []
        if let database { out.append(("Database", database)) }
        out.append(("Host", host))
        out.append(("Command", "pgkeep " + command))
        if let size { out.append(("Backup size", "\(ByteCount.text(size)) (\(size) bytes)")) }
        if let durationSeconds {
            let text =
                durationSeconds < 60
                ? "\((durationSeconds * 10).rounded() / 10) s" : DurationText.format(durationSeconds)
            out.append(("Duration", text))
        }
        if let path { out.append(("Path", path)) }
        return out
    }
}
