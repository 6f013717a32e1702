import Foundation

/// The status page: one server-rendered HTML document, its CSS and SVG inline, no script and no
/// external asset (its Content-Security-Policy forbids both), tables with headers for screen
/// readers, readable on a phone (tables scroll sideways) and in a dark theme. The daemon serves it
/// at `/`; `pgkeep report --html FILE` writes it as one file.
public enum StatusPage {
    public static func render(_ view: StatusView) -> String {
        let verdict =
            view.ok
            ? "All backups are fresh and verified"
            : "Needs attention: " + problems(view).prefix(3).joined(separator: "; ")
        var out = """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta http-equiv="Content-Security-Policy" content="\(contentSecurityPolicy)">
            <meta name="color-scheme" content="light dark">
            <title>pgkeep \(view.ok ? "OK" : "ATTENTION") · \(HTML.escape(view.host))</title>
            <style>\(StatusPageStyle.css)</style>
            </head>
            <body>
            <header>
            <h1>pgkeep on \(HTML.escape(view.host))</h1>
            <p id="verdict" class="verdict \(view.ok ? "ok" : "bad")" role="status">\(HTML.escape(verdict))</p>
            <p class="meta">Generated \(HTML.time(view.generated) ?? "") by pgkeep \(PGKeepVersion.string)\
            \(scheduleText(view))</p>
            </header>
            <main>

            """
        out += overview(view)
        var index = 0
        for scope in view.scopes {
            for db in scope.databases {
                index += 1
                out += StatusPageDetails.database(db, scope: scope, index: index, now: view.generated)
            }
        }
        out += remotes(view)
        out += failures(view)
        out += "</main>\n</body>\n</html>\n"
        return out
    }

    /// No script, no network: styles inline, images only as data: URIs.
    public static let contentSecurityPolicy =
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

    /// What keeps the page from "ok", in words: what `pgkeep status` would say.
    static func problems(_ view: StatusView) -> [String] {
        if let error = view.statusError { return ["the status check failed: \(error)"] }
        guard let report = view.report, !report.entries.isEmpty else { return ["no backup found"] }
        return report.entries.filter { !$0.ok }.map { e in
            let name = e.location == "local" ? e.database : "\(e.database) on \(e.location)"
            if !e.fresh {
                return e.age.map { "\(name): newest backup \(DurationText.format($0)) old" } ?? "\(name): no backup"
            }
            if !e.anomalies.isEmpty { return "\(name): \(e.anomalies.joined(separator: ", "))" }
            return "\(name): \(e.drillProblem ?? "not ok")"
        }
    }

    static func scheduleText(_ view: StatusView) -> String {
        var parts: [String] = []
        if let schedule = view.schedule { parts.append("schedule " + HTML.escape(schedule)) }
        if let next = view.nextRun { parts.append("next run <time>\(HTML.time(next) ?? "")</time>") }
        if let daemon = view.daemon {
            parts.append(
                daemon.running ? "a run is in progress" : "runs since start: \(daemon.ok) ok, \(daemon.failed) failed")
        }
        return parts.isEmpty ? "" : " · " + parts.joined(separator: " · ")
    }

    static func overview(_ view: StatusView) -> String {
        let fleet = view.scopes.contains { $0.server != nil }
        var out = "<section aria-labelledby=\"h-databases\">\n<h2 id=\"h-databases\">Databases</h2>\n"
        for scope in view.scopes where !scope.problems.isEmpty {
            let name = scope.server.map { "Server \($0)" } ?? "The backup directory"
            out += "<p class=\"problem\">\(HTML.escape(name + " (" + scope.directory + "): "))"
            out += HTML.escape(scope.problems.joined(separator: "; ")) + "</p>\n"
        }
        if let error = view.statusError {
            out += "<p class=\"problem\">The status check failed: \(HTML.escape(error))</p>\n"
        }
        var columns = [
            "Database", "Status", "Newest backup", "Age", "Size", "Duration", "Format", "Codec", "Verified", "Pinned",
            "Anomalies", "Restore forecast", "Last drill",
        ]
        if fleet { columns.insert("Server", at: 0) }
        out += "<div class=\"scroll\"><table id=\"databases\">\n<caption>The newest backup of each database</caption>\n"
        out += HTML.head(columns) + "\n<tbody>\n"
        for scope in view.scopes {
            for db in scope.databases {
                out += row(db, scope: scope, fleet: fleet, now: view.generated)
            }
        }
        out += "</tbody></table></div>\n</section>\n"
        return out
    }

    static func row(_ db: StatusView.DatabaseView, scope: StatusView.Scope, fleet: Bool, now: Date) -> String {
        let entry = db.entry
        let ok = entry?.ok ?? (db.lastAttempt?.success ?? true)
        let state: String
        if let entry {
            state = entry.ok ? "ok" : (entry.fresh ? (entry.anomalies.isEmpty ? "drill" : "anomaly") : "stale")
        } else {
            state = db.lastAttempt?.success == false ? "failed" : "not checked"
        }
        let newest = db.newest
        var cells: [String] = []
        if fleet { cells.append(HTML.cell(scope.server)) }
        cells.append(HTML.cell(db.name, header: true))
        cells.append(HTML.cell(state, class: ok ? "ok" : "bad"))
        cells.append(
            db.newestFile.map {
                "<td>" + HTML.escape($0)
                    + (newest?.label.map { "<br><span class=\"label\">label: \(HTML.escape($0))</span>" } ?? "")
                    + "</td>"
            } ?? HTML.cell(nil))
        cells.append(HTML.cell(HTML.age(db.history.last?.time, now: now)))
        cells.append(HTML.cell(newest.map { ByteCount.text($0.size) }, class: "num"))
        cells.append(HTML.cell(HTML.seconds(newest?.durationSeconds), class: "num"))
        cells.append(HTML.cell(newest?.format.rawValue))
        cells.append(HTML.cell(newest.map { codec($0) }))
        cells.append(HTML.cell(newest.map { verified($0) }))
        cells.append(HTML.cell(newest.map { $0.pinned ? "pinned" : "no" }, class: newest?.pinned == true ? "pin" : nil))
        let anomalies = newest.flatMap { $0.isAnomalous ? $0.anomalies : nil } ?? []
        cells.append(
            anomalies.isEmpty
                ? HTML.cell("none")
                : "<td class=\"anomaly\"><span aria-hidden=\"true\">⚠ </span>"
                    + HTML.escape(anomalies.joined(separator: "; ")) + "</td>")
        cells.append(HTML.cell(entry?.forecast.map { "about " + DurationText.format(max(1, $0)) }))
        cells.append(HTML.cell(db.drill.map { "\($0.ok ? "passed" : "FAILED") \($0.at)" }, class: drillClass(db)))
        let attr = "data-database=\"\(HTML.escape(db.name))\" data-state=\"\(state)\""
        return "<tr \(attr)>" + cells.joined() + "</tr>\n"
    }

    static func drillClass(_ db: StatusView.DatabaseView) -> String? {
        guard let drill = db.drill else { return nil }
        return drill.ok ? nil : "bad"
    }

    static func codec(_ m: Manifest) -> String {
        let c = m.compression
        let base = c.algorithm + (c.level.map { ":\($0)" } ?? "")
        return m.encryption == nil ? base : base + " + age"
    }

    static func verified(_ m: Manifest) -> String {
        var checks = ["sha256"]
        if m.verification.gzipComplete == true { checks.append("gzip") }
        if m.verification.pgRestoreList == true { checks.append("pg_restore --list") }
        if m.verification.sqlTrailer == true { checks.append("SQL trailer") }
        if m.fingerprint != nil { checks.append("fingerprint") }
        return "yes (" + checks.joined(separator: ", ") + ")"
    }

    static func remotes(_ view: StatusView) -> String {
        guard !view.remotes.isEmpty else { return "" }
        var out = "<section aria-labelledby=\"h-remotes\">\n<h2 id=\"h-remotes\">Remote destinations</h2>\n"
        out += "<div class=\"scroll\"><table id=\"remotes\">\n"
        out += HTML.head(["Destination", "Target", "State", "Backups", "Newest"]) + "\n<tbody>\n"
        for r in view.remotes {
            let name = (r.server.map { "\($0): " } ?? "") + r.name
            out += "<tr data-remote=\"\(HTML.escape(r.name))\">" + HTML.cell(name, header: true) + HTML.cell(r.target)
            out += r.error.map { HTML.cell("cannot list: \($0)", class: "bad") } ?? HTML.cell("reachable", class: "ok")
            out += HTML.cell(r.error == nil ? String(r.backups) : nil, class: "num")
            out += HTML.cell(HTML.age(r.newest, now: view.generated)) + "</tr>\n"
        }
        return out + "</tbody></table></div>\n</section>\n"
    }

    static func failures(_ view: StatusView) -> String {
        var out = "<section aria-labelledby=\"h-failures\">\n<h2 id=\"h-failures\">Last failures</h2>\n"
        guard !view.failures.isEmpty else {
            return out + "<p id=\"no-failures\">No failed run on record.</p>\n</section>\n"
        }
        out +=
            "<div class=\"scroll\"><table id=\"failures\">\n" + HTML.head(["When", "What", "Message"]) + "\n<tbody>\n"
        for f in view.failures.prefix(20) {
            out += "<tr>" + HTML.cell(HTML.time(f.time), header: true) + HTML.cell(f.what)
            out += "<td class=\"message\"><pre>\(HTML.escape(f.message))</pre></td></tr>\n"
        }
        return out + "</tbody></table></div>\n</section>\n"
    }
}
