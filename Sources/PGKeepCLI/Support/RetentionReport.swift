import Foundation
import PGKeep

/// Tables and JSON for `prune` and `list`.
enum RetentionReport {
    /// One backup in JSON output.
    struct Row {
        var database: String
        var path: String
        var time: String
        var format: String
        var size: Int64
        var label: String?
        var pinned: Bool
        var action: String
        var reasons: [String]
        var anomalies: [String]
        var shrinkAccepted: Bool

        init(_ item: PruneJob.Item) {
            let m = item.entry.manifest
            database = m.database
            path = item.entry.dataPath
            time = BackupName.isoString(item.entry.name.time)
            format = m.format.rawValue
            size = m.size
            label = m.label
            pinned = m.pinned
            action = item.decision.keep ? "keep" : "delete"
            reasons = item.decision.reasons
            anomalies = m.anomalies ?? []
            shrinkAccepted = m.shrinkAccepted ?? false
        }
    }

    /// Writes `{"<rowsKey>": [rows...], <rest of `tail`>}`: the rows by hand (JSONEncoder takes
    /// longer than the whole scan for 100,000 backups), the small rest through JSONEncoder.
    static func printJSON<T: Encodable>(rowsKey: String, rows: [Row], tail: T) {
        var out = "{\n  \(quote(rowsKey)): [\n"
        out.reserveCapacity(rows.count * 300)
        /// `"a", "b"`, appended in place (no string per item).
        func list(_ items: [String]) {
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                appendQuoted(item, to: &out)
            }
        }
        for (i, r) in rows.enumerated() {
            out += "    {\"action\": "
            appendQuoted(r.action, to: &out)
            out += ", \"anomalies\": ["
            list(r.anomalies)
            out += "], \"database\": "
            appendQuoted(r.database, to: &out)
            out += ", \"format\": "
            appendQuoted(r.format, to: &out)
            out += ", \"label\": "
            if let label = r.label { appendQuoted(label, to: &out) } else { out += "null" }
            out += ", \"path\": "
            appendQuoted(r.path, to: &out)
            out += r.pinned ? ", \"pinned\": true, \"reasons\": [" : ", \"pinned\": false, \"reasons\": ["
            list(r.reasons)
            out +=
                r.shrinkAccepted
                ? "], \"shrink_accepted\": true, \"size\": " : "], \"shrink_accepted\": false, \"size\": "
            out += String(r.size)
            out += ", \"time\": "
            appendQuoted(r.time, to: &out)
            out += i == rows.count - 1 ? "}\n" : "},\n"
        }
        out += "  ]"
        if let data = JSONOutput.report(tail), var rest = String(data: data, encoding: .utf8) {
            // Splice the other keys in after the rows: "{ ... }" minus its braces.
            rest = String(rest.dropFirst().dropLast()).trimmingCharacters(in: .whitespacesAndNewlines)
            if !rest.isEmpty { out += ",\n  " + rest }
        }
        out += "\n}\n"
        Console.out(out)
    }

    /// A JSON string literal.
    static func quote(_ s: String) -> String {
        var out = ""
        appendQuoted(s, to: &out)
        return out
    }

    /// Appends `s` as a JSON string literal.
    static func appendQuoted(_ s: String, to out: inout String) {
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5c }) {
            out += "\""
            out += s
            out += "\""
            return
        }
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }

    /// An aligned table on stdout.
    static func printTable(_ header: [String], _ rows: [[String]]) {
        // Widths in characters; the text built in one string and written once (100,000 rows).
        let counted = ([header] + rows).map { $0.map(\.count) }
        var widths = Array(repeating: 0, count: header.count)
        for r in counted { for (i, n) in r.enumerated() { widths[i] = max(widths[i], n) } }
        var out = ""
        out.reserveCapacity((rows.count + 1) * (widths.reduce(0, +) + 2 * widths.count))
        for (cells, counts) in zip([header] + rows, counted) {
            for (i, cell) in cells.enumerated() {
                out += cell
                if i < cells.count - 1 { out += String(repeating: " ", count: widths[i] - counts[i] + 2) }
            }
            out += "\n"
        }
        Console.out(out)
    }

    static func cells(_ item: PruneJob.Item, keepWord: String, deleteWord: String) -> [String] {
        let m = item.entry.manifest
        return [
            m.database, BackupName.isoString(item.entry.name.time), m.format.rawValue, BackupReporter.size(m.size),
            item.decision.keep ? keepWord : deleteWord, item.decision.reasons.joined(separator: ", "),
        ]
    }
}
