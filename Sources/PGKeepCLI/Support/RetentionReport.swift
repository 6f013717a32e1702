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
    static func printJSON<T: Encodable>(rowsKey: String, rows: some Sequence<Row>, tail: T) {
        printJSON(rowsKey: rowsKey, eachRow: { emit in for r in rows { emit(r) } }, tail: { tail })
    }

    /// The same, with the rows given one at a time by `eachRow` (which may read them as it goes),
    /// and the rest asked for after them. If `eachRow` throws before a megabyte is out, nothing is
    /// printed.
    static func printJSON<T: Encodable>(
        rowsKey: String, eachRow: ((Row) -> Void) throws -> Void, tail: () -> T
    ) rethrows {
        // Bytes, written a megabyte at a time, each row made as it is written: 100,000 rows never
        // sit in memory whole, as rows or as text.
        let chunk = 1 << 20
        var out = [UInt8]()
        out.reserveCapacity(chunk + 4096)
        func add(_ s: StaticString) {
            out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
        }
        // After a failed write (the reader went away), nothing more: never a later chunk after a
        // lost one, which could read as whole JSON with rows missing.
        var failed = false
        func flush() {
            if !failed { failed = !out.withUnsafeBytes { FileSystem.writeUntilClosed(STDOUT_FILENO, $0) } }
            out.removeAll(keepingCapacity: true)
        }
        /// `"a", "b"`, appended in place (no string per item).
        func list(_ items: [String]) {
            for (i, item) in items.enumerated() {
                if i > 0 { add(", ") }
                appendQuoted(item, to: &out)
            }
        }
        out.append(contentsOf: "{\n  \(quote(rowsKey)): [\n".utf8)
        var first = true
        func emit(_ r: Row) {
            if !first { add(",\n") }
            first = false
            add("    {\"action\": ")
            appendQuoted(r.action, to: &out)
            add(", \"anomalies\": [")
            list(r.anomalies)
            add("], \"database\": ")
            appendQuoted(r.database, to: &out)
            add(", \"format\": ")
            appendQuoted(r.format, to: &out)
            add(", \"label\": ")
            if let label = r.label { appendQuoted(label, to: &out) } else { add("null") }
            add(", \"path\": ")
            appendQuoted(r.path, to: &out)
            if r.pinned {
                add(", \"pinned\": true, \"reasons\": [")
            } else {
                add(", \"pinned\": false, \"reasons\": [")
            }
            list(r.reasons)
            if r.shrinkAccepted {
                add("], \"shrink_accepted\": true, \"size\": ")
            } else {
                add("], \"shrink_accepted\": false, \"size\": ")
            }
            out.append(contentsOf: String(r.size).utf8)
            add(", \"time\": ")
            appendQuoted(r.time, to: &out)
            add("}")
            if out.count >= chunk { flush() }
        }
        try eachRow(emit)
        if !first { add("\n") }
        add("  ]")
        if let data = JSONOutput.report(tail()), var rest = String(data: data, encoding: .utf8) {
            // Splice the other keys in after the rows: "{ ... }" minus its braces.
            rest = String(rest.dropFirst().dropLast()).trimmingCharacters(in: .whitespacesAndNewlines)
            if !rest.isEmpty { out.append(contentsOf: (",\n  " + rest).utf8) }
        }
        add("\n}\n")
        flush()
    }

    /// Appends `s` as a JSON string literal, as bytes.
    static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        var s = s
        let plain = s.withUTF8 { bytes in
            guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5c }) else { return false }
            out.append(0x22)
            out.append(contentsOf: bytes)
            out.append(0x22)
            return true
        }
        if plain { return }
        var text = ""
        appendQuoted(s, to: &text)
        out.append(contentsOf: text.utf8)
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
