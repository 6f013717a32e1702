import Foundation
import PGKeep

/// Tables and JSON for `prune` and `list`.
enum RetentionReport {
    static func row(_ item: PruneJob.Item) -> [String: Any] {
        let m = item.entry.manifest
        return ["database": m.database, "path": item.entry.dataPath, "time": BackupName.isoString(item.entry.name.time),
                "format": m.format.rawValue, "size": m.size, "label": m.label as Any, "pinned": m.pinned,
                "action": item.decision.keep ? "keep" : "delete", "reasons": item.decision.reasons]
    }

    static func printJSON(_ object: [String: Any]) {
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) {
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
    }

    /// An aligned table on stdout.
    static func printTable(_ header: [String], _ rows: [[String]]) {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }
        print(line(header))
        rows.forEach { print(line($0)) }
    }

    static func cells(_ item: PruneJob.Item, keepWord: String, deleteWord: String) -> [String] {
        let m = item.entry.manifest
        return [m.database, BackupName.isoString(item.entry.name.time), m.format.rawValue, BackupReporter.size(m.size),
                item.decision.keep ? keepWord : deleteWord, item.decision.reasons.joined(separator: ", ")]
    }
}
