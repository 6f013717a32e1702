import Foundation
import PGKeep

/// Prints what a restore did: per-table row counts on stderr (aligned), or JSON on stdout, and
/// any --verify differences.
struct RestoreReport {
    let quiet: Bool
    let json: Bool

    func show(_ r: RestoreResult) {
        if json {
            let object: [String: Any] = [
                "target": r.target, "backup": r.input.origin, "kind": r.input.kind.description, "checked": r.checked,
                "duration_seconds": (r.duration * 1000).rounded() / 1000, "row_counts": r.rowCounts,
                "verify": [
                    "ok": r.mismatches.isEmpty,
                    "mismatches": r.mismatches.map {
                        ["table": $0.table, "expected": $0.expected, "found": $0.found as Any]
                    },
                ],
            ]
            printJSON(object)
        }
        for m in r.mismatches {
            printStderr(
                "pgkeep: error: row count of \(m.table) is \(m.found.map(String.init) ?? "missing"), "
                    + "the backup recorded \(m.expected)"
            )
        }
        guard !quiet, !json else { return }
        let width = max(5, r.rowCounts.keys.map(\.count).max() ?? 0)
        printStderr(
            "pgkeep: restored \(r.input.origin) into \"\(r.target)\" in "
                + "\(String(format: "%.1f", r.duration)) s; rows per table:"
        )
        for (table, n) in r.rowCounts.sorted(by: { $0.key < $1.key }) {
            printStderr("  " + table.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + String(n))
        }
    }
}
