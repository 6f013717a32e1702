import Foundation
import PGKeep

/// What `pgkeep status` prints: a table and a verdict on stderr, or JSON on stdout.
struct StatusReport {
    let json: Bool

    func show(_ report: StatusCheck.Report, directory: String) {
        if json {
            let rows: [[String: Any]] = report.entries.map { e in
                var row: [String: Any] = ["database": e.database, "where": e.location, "fresh": e.fresh]
                row["newest"] = e.newestTime.map(BackupName.isoString) ?? NSNull()
                row["path"] = e.newestPath ?? NSNull()
                row["age_seconds"] = e.age.map { Int($0) } ?? NSNull()
                row["anomalies"] = e.anomalies
                return row
            }
            let object: [String: Any] = ["databases": rows, "ok": report.ok, "max_age_seconds": Int(report.maxAge)]
            printJSON(object)
        }
        if report.entries.isEmpty {
            printStderr("pgkeep: status: STALE: no backups at all in \(directory)")
            return
        }
        if !json {
            RetentionReport.printTable(
                ["DATABASE", "WHERE", "NEWEST", "AGE", "STATUS"],
                report.entries.map { e in
                    [
                        e.database, e.location, e.newestTime.map(BackupName.isoString) ?? "-",
                        e.age.map(DurationText.format) ?? "-",
                        !e.fresh
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
        if stale.isEmpty {
            if report.ok { printStderr("pgkeep: status: ok: every database has a backup newer than \(maxAge)") }
        } else {
            printStderr(
                "pgkeep: status: STALE: \(stale.joined(separator: ", ")) has no verified backup newer than \(maxAge)")
        }
    }
}
