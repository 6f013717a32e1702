import Foundation

/// The last attempt per database (`DIR/.pgkeep-attempts.json`): when, whether it succeeded, how
/// long it took and, when it failed, why, so metrics can tell "the last run failed" from "no run
/// at all" and the status page can show the failure. Written after each backup run (temporary
/// file, rename), read by metrics, `status --format prometheus` and the status page.
public enum AttemptLog {
    public struct Attempt: Codable, Sendable, Equatable {
        public var time: String
        public var success: Bool
        public var durationSeconds: Double?
        /// A failed attempt's error (secrets masked: connection strings' and every registered
        /// password, token and header value; at most 2,000 characters).
        public var error: String?

        public init(time: String, success: Bool, durationSeconds: Double?, error: String? = nil) {
            self.time = time
            self.success = success
            self.durationSeconds = durationSeconds
            self.error = error.map { String(Redaction.shared.applyToChildOutput($0).prefix(2000)) }
        }

        enum CodingKeys: String, CodingKey {
            case time, success, error
            case durationSeconds = "duration_seconds"
        }
    }

    public static let fileName = ".pgkeep-attempts.json"

    public static func read(_ directory: String) -> [String: Attempt] {
        guard let data = FileManager.default.contents(atPath: directory + "/" + fileName) else { return [:] }
        return (try? JSONDecoder().decode([String: Attempt].self, from: data)) ?? [:]
    }

    /// Merges `attempts` into the log (other databases' entries stay).
    public static func record(_ attempts: [String: Attempt], directory: String) throws {
        guard !attempts.isEmpty, FileManager.default.fileExists(atPath: directory) else { return }
        // Shards of one directory finish side by side: one read-merge-write at a time.
        let lock = try DirectoryLock(directory: directory, file: ".pgkeep-attempts.lock", waiting: 30)
        defer { _ = lock }
        var all = read(directory)
        all.merge(attempts) { _, new in new }
        // A database not attempted for 90 days (dropped, or a name mistyped once) is forgotten.
        let horizon = Date().addingTimeInterval(-90 * 86400)
        all = all.filter { BackupName.parseISO($0.value.time).map { $0 >= horizon } ?? false }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileSystem.replace(directory + "/" + fileName, with: try encoder.encode(all))
    }
}

/// Prometheus metrics in the text exposition format, for node_exporter's textfile collector
/// (`[metrics] textfile`) and `status --format prometheus`: per database, from the backups in the
/// directory (and on the remote) and the attempt log.
public enum Metrics {
    struct Family {
        var name: String
        var help: String
        var samples: [(labels: [(String, String)], value: Double)] = []
    }

    /// One server's part of the metrics: its entries and attempts; `server` (a `[[server]]`
    /// name) becomes a label of every sample, nil for the one server of `[connection]`.
    public struct Scope: Sendable {
        public var server: String?
        public var directory: String
        public init(server: String?, directory: String) {
            self.server = server
            self.directory = directory
        }
    }

    public static func text(entries: [StatusCheck.Entry], attempts: [String: AttemptLog.Attempt]) -> String {
        text([(nil, entries, attempts)])
    }

    static func text(_ parts: [(server: String?, entries: [StatusCheck.Entry], attempts: [String: AttemptLog.Attempt])])
        -> String
    {
        var families = [
            Family(name: "pgkeep_last_success_timestamp_seconds", help: "Time of the newest verified backup."),
            Family(name: "pgkeep_last_attempt_timestamp_seconds", help: "Time of the last backup attempt."),
            Family(name: "pgkeep_last_attempt_success", help: "1 if the last backup attempt succeeded, else 0."),
            Family(name: "pgkeep_last_backup_size_bytes", help: "Size of the newest backup file."),
            Family(name: "pgkeep_last_backup_duration_seconds", help: "How long the newest backup took."),
            Family(name: "pgkeep_backups", help: "Backups kept, per location."),
            Family(name: "pgkeep_oldest_backup_timestamp_seconds", help: "Time of the oldest backup kept."),
            Family(name: "pgkeep_size_anomaly", help: "1 while the newest backup shrank (not accepted), else 0."),
            Family(
                name: "pgkeep_restore_forecast_seconds",
                help: "How long a whole restore of the newest backup should take, from the last drills."),
            Family(name: "pgkeep_last_drill_timestamp_seconds", help: "When the last restore drill ran."),
        ]
        for (server, entries, attempts) in parts {
            let serverLabel = server.map { [("server", $0)] } ?? []
            let local = entries.filter { $0.location == "local" }
            var primary = local.isEmpty ? entries : local
            let known = Set(primary.map(\.database))
            for name in attempts.keys.sorted() where !known.contains(name) {
                primary.append(StatusCheck.Entry(database: name, fresh: false))
            }
            for e in primary {
                let db = serverLabel + [("database", e.database)]
                if let time = e.newestTime { families[0].samples.append((db, time.timeIntervalSince1970)) }
                if let attempt = attempts[e.database], let time = BackupName.parseISO(attempt.time) {
                    families[1].samples.append((db, time.timeIntervalSince1970))
                    families[2].samples.append((db, attempt.success ? 1 : 0))
                } else if let time = e.newestTime {
                    families[1].samples.append((db, time.timeIntervalSince1970))
                    families[2].samples.append((db, 1))
                }
                if let newest = e.newest {
                    families[3].samples.append((db + [("format", newest.format.rawValue)], Double(newest.size)))
                    if let d = newest.durationSeconds { families[4].samples.append((db, d)) }
                }
                if let oldest = e.oldestTime { families[6].samples.append((db, oldest.timeIntervalSince1970)) }
                if e.newestTime != nil { families[7].samples.append((db, e.anomalies.isEmpty ? 0 : 1)) }
                if let f = e.forecast { families[8].samples.append((db, f)) }
                if let d = e.lastDrill { families[9].samples.append((db, d.timeIntervalSince1970)) }
            }
            for e in entries {
                families[5].samples.append(
                    (serverLabel + [("database", e.database), ("location", e.location)], Double(e.count)))
            }
        }
        var out = ""
        for family in families where !family.samples.isEmpty {
            out += "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) gauge\n"
            for sample in family.samples {
                let labels = sample.labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
                out += "\(family.name){\(labels)} \(number(sample.value))\n"
            }
        }
        return out
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// Writes the metrics of `directory` (and `remote`) to `path`, atomically.
    public static func write(to path: String, directory: String, remotes: [any RemoteStore] = []) throws {
        try write(to: path, scopes: [Scope(server: nil, directory: directory)], remotes: remotes)
    }

    /// The metrics of every server's directory (and `remotes`, with the first scope), one file.
    public static func write(to path: String, scopes: [Scope], remotes: [any RemoteStore] = []) throws {
        try FileSystem.replace(path, with: Data(try text(scopes: scopes, remotes: remotes).utf8))
    }

    /// The metrics text of every scope's directory (and `remotes`, with the first scope).
    public static func text(scopes: [Scope], remotes: [any RemoteStore] = []) throws -> String {
        var parts: [(String?, [StatusCheck.Entry], [String: AttemptLog.Attempt])] = []
        for (i, scope) in scopes.enumerated() {
            let check = StatusCheck(directory: scope.directory, databases: nil, maxAge: .infinity)
            let report = try check.run(remotes: i == 0 ? remotes : [])
            parts.append((scope.server, report.entries, AttemptLog.read(scope.directory)))
        }
        return text(parts)
    }
}
