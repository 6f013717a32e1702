import Foundation

/// A database's section of the status page: the chart of its last 90 backups, its last drill and
/// what retention keeps and why.
enum StatusPageDetails {
    /// `index` makes the section's id unique (two long names may share their first 200 characters).
    static func database(_ db: StatusView.DatabaseView, scope: StatusView.Scope, index: Int, now: Date) -> String {
        let title = (scope.server.map { "\($0) / " } ?? "") + db.name
        let id = "db-\(index)-" + anchor(title)
        var out = "<section class=\"database\" aria-labelledby=\"\(id)\" data-database=\"\(HTML.escape(db.name))\">\n"
        out += "<h2 id=\"\(id)\">\(HTML.escape(title))</h2>\n"
        if !db.history.isEmpty { out += chart(db.history, title: title) }
        if let drill = db.drill {
            out += "<p class=\"drill \(drill.ok ? "ok" : "bad")\">Last restore drill: "
            out += HTML.escape(
                "\(drill.ok ? "passed" : "FAILED") at \(drill.at) on \(db.drilledFile ?? "?"), "
                    + "\(HTML.seconds(drill.seconds) ?? "")" + (drill.rows.map { ", \($0) rows" } ?? "")
                    + (drill.error.map { ": \($0)" } ?? ""))
            out += "</p>\n"
        }
        if let attempt = db.lastAttempt, !attempt.success {
            out += "<p class=\"problem\">The last attempt (\(HTML.escape(attempt.time))) failed: "
            out += HTML.escape(attempt.error ?? "no message recorded") + "</p>\n"
        }
        if !db.retention.isEmpty { out += retention(db.retention, policy: scope.policy, now: now) }
        return out + "</section>\n"
    }

    /// A name made safe for an id attribute (letters, digits and dashes; the rest hex-encoded).
    static func anchor(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default: out += "-" + String(byte, radix: 16)
            }
        }
        return String(out.prefix(200))
    }

    /// Bars for the sizes, a line for the durations; anomalies in red with a mark above the bar,
    /// pinned backups outlined. Each bar carries a `<title>` (a tooltip and a screen reader's text).
    static func chart(_ points: [StatusView.Point], title: String) -> String {
        let width = 720.0
        let height = 180.0
        let top = 14.0
        let bottom = 22.0
        let plot = height - top - bottom
        let maxSize = Double(max(1, points.map(\.size).max() ?? 1))
        let maxDuration = max(0.001, points.compactMap(\.duration).max() ?? 0)
        // At least 30 slots, so that a few backups give narrow bars, not a wall.
        let step = width / Double(max(points.count, 30))
        let bar = max(1, step * 0.7)
        var bars = ""
        var line: [String] = []
        for (i, p) in points.enumerated() {
            let x = Double(i) * step + (step - bar) / 2
            let h = max(1, plot * Double(p.size) / maxSize)
            let y = top + plot - h
            let kind = p.anomalous ? "bar anomaly" : (p.pinned ? "bar pinned" : "bar")
            let label =
                "\(HTML.time(p.time) ?? ""): \(ByteCount.text(p.size))"
                + (p.duration.map { ", \(HTML.seconds($0) ?? "")" } ?? "") + (p.anomalous ? ", ANOMALY (shrank)" : "")
                + (p.pinned ? ", pinned" : "")
            bars += "<rect class=\"\(kind)\" x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(bar))\" height=\"\(f(h))\">"
            bars += "<title>\(HTML.escape(label))</title></rect>"
            if p.anomalous {
                bars += "<text class=\"mark anomaly\" x=\"\(f(x + bar / 2))\" y=\"\(f(max(10, y - 2)))\">!</text>"
            }
            if let d = p.duration {
                line.append("\(f(Double(i) * step + step / 2)),\(f(top + plot - plot * d / maxDuration))")
            }
        }
        var svg = "<figure class=\"chart\">\n"
        svg += "<svg viewBox=\"0 0 \(f(width)) \(f(height))\" role=\"img\" aria-label=\""
        svg += HTML.escape("Size and duration of the last \(points.count) backups of \(title)") + "\">"
        svg += "<line class=\"axis\" x1=\"0\" y1=\"\(f(top + plot))\" x2=\"\(f(width))\" y2=\"\(f(top + plot))\"/>"
        svg += bars
        if line.count > 1 { svg += "<polyline class=\"duration\" points=\"\(line.joined(separator: " "))\"/>" }
        svg += "<text class=\"label\" x=\"2\" y=\"11\">\(HTML.escape(ByteCount.text(Int64(maxSize))))</text>"
        svg += "<text class=\"label end\" x=\"\(f(width - 2))\" y=\"11\">"
        svg += "\(HTML.escape(HTML.seconds(maxDuration) ?? ""))</text>"
        svg +=
            "<text class=\"label\" x=\"2\" y=\"\(f(height - 6))\">\(HTML.escape(HTML.time(points.first?.time) ?? ""))</text>"
        svg += "<text class=\"label end\" x=\"\(f(width - 2))\" y=\"\(f(height - 6))\">"
        svg += "\(HTML.escape(HTML.time(points.last?.time) ?? ""))</text></svg>\n"
        let anomalies = points.filter(\.anomalous).count
        svg += "<figcaption>Bars: size of each backup (\(points.count), oldest to newest); line: its duration."
        svg += anomalies > 0 ? " <span class=\"anomaly\">\(anomalies) anomalous (shrank), in red.</span>" : ""
        return svg + "</figcaption>\n</figure>\n"
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    static func retention(_ rows: [StatusView.Kept], policy: String, now: Date) -> String {
        let kept = rows.filter(\.keep).count
        var out = "<details class=\"retention\"><summary>Retention (\(HTML.escape(policy))): "
        out += "\(kept) kept, \(rows.count - kept) the next prune deletes</summary>\n<div class=\"scroll\"><table>\n"
        out += HTML.head(["Backup", "Age", "Size", "Decision", "Why"]) + "\n<tbody>\n"
        for r in rows {
            out += "<tr class=\"\(r.keep ? "keep" : "delete")\"><th scope=\"row\">" + HTML.escape(r.file)
            out += (r.label.map { "<br><span class=\"label\">label: \(HTML.escape($0))</span>" } ?? "") + "</th>"
            out += HTML.cell(HTML.age(r.time, now: now)) + HTML.cell(ByteCount.text(r.size), class: "num")
            out += HTML.cell(r.keep ? "keep" : "delete", class: r.keep ? "ok" : "bad")
            out += HTML.cell(r.reasons.isEmpty ? "outside every rule" : r.reasons.joined(separator: ", ")) + "</tr>\n"
        }
        return out + "</tbody></table></div></details>\n"
    }
}
