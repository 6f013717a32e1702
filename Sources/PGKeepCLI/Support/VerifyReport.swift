import Foundation
import PGKeep

/// What `pgkeep verify` prints: a line per backup, a last line, and the JSON rows.
final class VerifyReport {
    let json: Bool
    private var rows: [Row] = []

    /// One backup in the JSON output: its checks when it is fine, else the error.
    struct Row: Encodable {
        var path: String
        var ok: Bool
        var checks: [String]?
        var error: String?
    }

    /// The JSON output.
    struct JSON: Encodable {
        var backups: [Row]
        var ok: Bool
    }

    init(json: Bool) { self.json = json }

    func add(_ verdict: VerifyJob.Verdict) {
        switch verdict {
        case .ok(let outcome):
            printInfo("pgkeep: ok: \(outcome.path): " + outcome.checks.joined(separator: "; "))
            rows.append(Row(path: outcome.path, ok: true, checks: outcome.checks))
        case .failed(let path, let error):
            printStderr("pgkeep: FAILED: \(path): " + error.description)
            rows.append(Row(path: path, ok: false, error: Redaction.shared.apply(error.message)))
        }
    }

    func finish(failures: Int, of total: Int) {
        if json {
            printJSON(JSON(backups: rows, ok: failures == 0))
        }
        if failures > 0 {
            printStderr("pgkeep: verify: \(failures) of \(total) backups FAILED; the others are fine")
        } else {
            printInfo("pgkeep: verify: all \(total) backups are fine")
        }
    }
}
