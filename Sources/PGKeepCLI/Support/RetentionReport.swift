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
        out.reserveCapacity(rows.count * 260)
        for (i, r) in rows.enumerated() {
            out +=
                "    {\"action\": \(quote(r.action)), \"anomalies\": [\(r.anomalies.map(quote).joined(separator: ", "))], "
                + "\"database\": \(quote(r.database)), \"format\": \(quote(r.format)), "
            out += "\"label\": \(r.label.map(quote) ?? "null"), \"path\": \(quote(r.path)), \"pinned\": \(r.pinned), "
            out +=
                "\"reasons\": [\(r.reasons.map(quote).joined(separator: ", "))], "
                + "\"shrink_accepted\": \(r.shrinkAccepted), \"size\": \(r.size), \"time\": \(quote(r.time))}"
            out += i == rows.count - 1 ? "\n" : ",\n"
        }
        out += "  ]"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(tail), var rest = String(data: data, encoding: .utf8) {
            // Splice the other keys in after the rows: "{ ... }" minus its braces.
            rest = String(rest.dropFirst().dropLast()).trimmingCharacters(in: .whitespacesAndNewlines)
            if !rest.isEmpty { out += ",\n  " + rest }
        }
        out += "\n}\n"
        Console.out(out)
    }

    /// A JSON string literal.
    static func quote(_ s: String) -> String {
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5c }) { return "\"" + s + "\"" }
        var out = "\""
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
        return out + "\""
    }

    /// An aligned table on stdout.
    static func printTable(_ header: [String], _ rows: [[String]]) {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in
                i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }
            .joined(separator: "  ")
        }
        print(line(header))
        for row in rows { print(line(row)) }
    }

    static func cells(_ item: PruneJob.Item, keepWord: String, deleteWord: String) -> [String] {
        let m = item.entry.manifest
        return [
            m.database, BackupName.isoString(item.entry.name.time), m.format.rawValue, BackupReporter.size(m.size),
            item.decision.keep ? keepWord : deleteWord, item.decision.reasons.joined(separator: ", "),
        ]
    }
}
