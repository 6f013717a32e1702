import Foundation
import PGKeep

/// Prints what a restore did: per-table row counts on stderr (aligned), or JSON on stdout, and
/// any --verify differences.
struct RestoreReport {
    let quiet: Bool
    let json: Bool

    /// The JSON output.
    struct JSON: Encodable {
        var target: String
        var backup: String
        var kind: String
        var checked: String
        var durationSeconds: Double
        var rowCounts: [String: Int]
        var verify: Verify

        /// --verify's outcome: the tables whose counts differ from the manifest's, and what differs
        /// from the backup's fingerprint (present when the backup has one).
        struct Verify: Encodable {
            var ok: Bool
            var mismatches: [Mismatch]
            var differences: [String]?
        }

        /// `found` is null for a table missing in the target.
        struct Mismatch: Encodable {
            var table: String
            var expected: Int
            var found: JSONNullable<Int>
        }

        enum CodingKeys: String, CodingKey {
            case target, backup, kind, checked, verify
            case durationSeconds = "duration_seconds"
            case rowCounts = "row_counts"
        }
    }

    func show(_ r: RestoreResult) {
        if json {
            printJSON(
                JSON(
                    target: r.target, backup: r.input.origin, kind: r.input.kind.description, checked: r.checked,
                    durationSeconds: (r.duration * 1000).rounded() / 1000, rowCounts: r.rowCounts,
                    verify: JSON.Verify(
                        ok: r.verified,
                        mismatches: r.mismatches.map {
                            JSON.Mismatch(table: $0.table, expected: $0.expected, found: JSONNullable($0.found))
                        },
                        differences: r.input.manifest?.fingerprint == nil ? nil : r.differences)))
        }
        for difference in r.differences {
            printStderr("pgkeep: error: the restore differs from the backup's fingerprint: " + difference)
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
