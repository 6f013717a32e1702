import Foundation
import PGKeep

/// What `pgkeep verify` prints: a line per backup, a last line, and the JSON rows.
final class VerifyReport {
    let json: Bool
    private var rows: [[String: Any]] = []

    init(json: Bool) { self.json = json }

    func add(_ verdict: VerifyJob.Verdict) {
        switch verdict {
        case .ok(let outcome):
            printInfo("pgkeep: ok: \(outcome.path): " + outcome.checks.joined(separator: "; "))
            rows.append(["path": outcome.path, "ok": true, "checks": outcome.checks])
        case .failed(let path, let error):
            printStderr("pgkeep: FAILED: \(path): " + error.description)
            rows.append(["path": path, "ok": false, "error": Redaction.shared.apply(error.message)])
        }
    }

    func finish(failures: Int, of total: Int) {
        if json {
            let object: [String: Any] = ["backups": rows, "ok": failures == 0]
            printJSON(object)
        }
        if failures > 0 {
            printStderr("pgkeep: verify: \(failures) of \(total) backups FAILED; the others are fine")
        } else {
            printInfo("pgkeep: verify: all \(total) backups are fine")
        }
    }
}
