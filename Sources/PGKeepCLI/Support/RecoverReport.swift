import Foundation
import PGKeep

/// What `pgkeep recover` prints: the counts and what was done, or JSON on stdout.
struct RecoverReport {
    let json: Bool

    struct JSON: Encodable {
        var table: String
        var key: [String]
        var backupRows: Int
        var deleted: Int
        var changed: Int
        var added: Int
        var applied: Bool
        var sqlFile: String?

        enum CodingKeys: String, CodingKey {
            case table, key, deleted, changed, added, applied
            case backupRows = "backup_rows"
            case sqlFile = "sql_file"
        }
    }

    func show(_ r: RecoverJob.Result) {
        if json {
            printJSON(
                JSON(
                    table: r.table, key: r.key, backupRows: r.backupRows, deleted: r.deleted, changed: r.changed,
                    added: r.added, applied: r.applied, sqlFile: r.sqlFile))
        }
        if let file = r.sqlFile {
            printInfo("pgkeep: wrote \(file): \(r.deleted) INSERTs and \(r.changed) UPDATEs, one transaction (psql -f)")
        }
        if r.applied {
            printInfo(
                "pgkeep: recovered \(r.table): \(r.deleted) deleted rows brought back, \(r.changed) changed rows set "
                    + "back, \(r.added) rows added since left as they are (committed)")
        } else if r.sqlFile == nil {
            printInfo("pgkeep: nothing was changed: --sql FILE writes the statements, --apply runs them")
        }
    }
}
