import Foundation
import PGKeep

/// What `pgkeep status` prints: a table and a verdict on stderr, or JSON on stdout.
struct StatusReport {
    let json: Bool

    /// The JSON output.
    struct JSON: Encodable {
        var databases: [Row]
        var ok: Bool
        var maxAgeSeconds: Int

        /// One database; `newest`, `path` and `age_seconds` are null when it has no backup.
        struct Row: Encodable {
            var database: String
            var `where`: String
            var fresh: Bool
            var newest: JSONNullable<String>
            var path: JSONNullable<String>
            var ageSeconds: JSONNullable<Int>
            var anomalies: [String]
            /// A whole restore's forecast and the last drill (absent when there is none).
            var forecastSeconds: Int?
            var lastDrill: String?
            var drillProblem: String?

            enum CodingKeys: String, CodingKey {
                case database, `where`, fresh, newest, path, anomalies
                case ageSeconds = "age_seconds"
                case forecastSeconds = "forecast_seconds"
                case lastDrill = "last_drill"
                case drillProblem = "drill_problem"
            }
        }

        enum CodingKeys: String, CodingKey {
            case databases, ok
            case maxAgeSeconds = "max_age_seconds"
        }
    }

    func show(_ report: StatusCheck.Report, directory: String) {
        if json {
            let rows = report.entries.map { e in
                JSON.Row(
                    database: e.database, where: e.location, fresh: e.fresh,
                    newest: JSONNullable(e.newestTime.map(BackupName.isoString)), path: JSONNullable(e.newestPath),
                    ageSeconds: JSONNullable(e.age.map { Int($0) }), anomalies: e.anomalies,
                    forecastSeconds: e.forecast.map { Int($0) }, lastDrill: e.lastDrill.map(BackupName.isoString),
                    drillProblem: e.drillProblem)
            }
            printJSON(JSON(databases: rows, ok: report.ok, maxAgeSeconds: Int(report.maxAge)))
        }
        if report.entries.isEmpty {
            printStderr("pgkeep: status: STALE: no backups at all in \(directory)")
            return
        }
        if !json {
            RetentionReport.printTable(
                ["DATABASE", "WHERE", "NEWEST", "AGE", "RESTORE", "STATUS"],
                report.entries.map { e in
                    [
                        e.database, e.location, e.newestTime.map(BackupName.isoString) ?? "-",
                        e.age.map(DurationText.format) ?? "-", e.forecast.map { "~" + DurationText.format($0) } ?? "-",
                        e.drillProblem != nil
                            ? "RTO"
                            : !e.fresh
                                ? (e.newestTime == nil ? "STALE (no backup)" : "STALE")
                                : e.anomalies.isEmpty ? "ok" : "ANOMALY",
                    ]
                })
        }
        let maxAge = DurationText.format(report.maxAge)
        let stale = report.entries.filter { !$0.fresh }
            .map { $0.location == "local" ? $0.database : "\($0.database) (\($0.location))" }
        for e in report.entries where !e.anomalies.isEmpty {
            printStderr(
                "pgkeep: status: ANOMALY: \(e.database): the newest backup shrank: \(e.anomalies.joined(separator: "; ")) "
                    + "(accept it with `pgkeep accept \(e.newestPath ?? "BACKUP")` if intended)")
        }
        for e in report.entries {
            if let problem = e.drillProblem { printStderr("pgkeep: status: RTO: \(e.database): \(problem)") }
        }
        if stale.isEmpty {
            if report.ok { printStderr("pgkeep: status: ok: every database has a backup newer than \(maxAge)") }
        } else {
            printStderr(
                "pgkeep: status: STALE: \(stale.joined(separator: ", ")) has no verified backup newer than \(maxAge)")
        }
    }
}
