import Foundation
import PGKeep

/// What `copy` and `compare` print: progress on a terminal, the side-by-side comparison on
/// stderr, one line per database copied, and with --json one object on stdout.
final class CopyReport {
    let json: Bool
    private(set) var failed = false
    private var rows: [CopyReportJSON.Row] = []
    private var copiedGlobals: CopyReportJSON.Globals?

    init(json: Bool) { self.json = json }

    func globals(_ applied: (statements: Int, existing: Int)) {
        printInfo(
            "pgkeep: roles and tablespaces: \(applied.statements) statements, \(applied.existing) already existed")
        copiedGlobals = CopyReportJSON.Globals(statements: applied.statements, alreadyExisted: applied.existing)
    }

    func plan(_ plan: CopyPlan) {
        let total = plan.tables.reduce(Int64(0)) { $0 + $1.bytes }
        printInfo("pgkeep: would copy \(plan.source) to \(plan.target) with \(plan.clients)")
        if plan.targetExists { printInfo("pgkeep: the target exists: the copy needs --clean --yes") }
        for t in plan.tables {
            let rows = t.estimatedRows < 0 ? "?" : "~\(t.estimatedRows)"
            Console.write(STDOUT_FILENO, Data("\(t.name)\t\(BackupReporter.size(t.bytes))\t\(rows) rows\n".utf8))
        }
        printInfo(
            "pgkeep: \(plan.tables.count) tables, \(BackupReporter.size(total)), \(plan.sequences) sequences, "
                + "\(plan.largeObjects) large objects")
        rows.append(
            .plan(
                CopyReportJSON.Plan(
                    source: plan.source, target: plan.target, targetExists: plan.targetExists, bytes: total,
                    tables: plan.tables.map {
                        CopyReportJSON.Plan.Table(name: $0.name, bytes: $0.bytes, estimatedRows: $0.estimatedRows)
                    }, sequences: plan.sequences, largeObjects: plan.largeObjects)))
    }

    /// Runs the job with a progress line on a terminal; a mismatch or error is reported, not thrown,
    /// so that the other databases of the run are still copied.
    func copy(_ job: CopyJob) throws {
        let ticker = ProgressLine(read: job.progressReader)
        defer { ticker.stop() }
        do {
            let result = try job.run()
            ticker.stop()
            let rate = Double(result.bytes) / max(0.001, result.phases.first { $0.0 == "data" }?.1 ?? 1)
            let phases = result.phases.map { "\($0.0) \(String(format: "%.1f", $0.1)) s" }.joined(separator: ", ")
            let validation = result.comparison.map { show($0, quietWhenEqual: true) }
            printInfo(
                "pgkeep: copied \(result.tables) tables, \(result.rows) rows, \(BackupReporter.size(result.bytes)) "
                    + String(format: "(%.1f MB/s) in %.1f s: ", rate / 1_000_000, result.seconds) + phases
                    + (result.comparison == nil ? "; not validated (--no-verify)" : "; validated: all equal"))
            rows.append(
                .copied(
                    CopyReportJSON.Copied(
                        source: result.source, target: result.target, ok: true, tables: result.tables,
                        rows: result.rows, bytes: result.bytes, seconds: result.seconds,
                        phases: Dictionary(result.phases, uniquingKeysWith: { a, _ in a }), clients: result.clients,
                        verified: result.comparison != nil, validation: JSONNullable(validation))))
        } catch let mismatch as CopyMismatch {
            ticker.stop()
            let validation = show(mismatch.comparison)
            printStderr("pgkeep: error: the copy does not match the source; it was dropped")
            rows.append(
                .mismatch(
                    CopyReportJSON.Mismatch(
                        source: mismatch.comparison.source, target: mismatch.comparison.target, ok: false,
                        validation: validation)))
        }
    }

    /// `compare`'s result: shown, and a row of the JSON output.
    func comparison(_ c: Comparison) { rows.append(.comparison(show(c))) }

    /// The side-by-side table (all rows; with `quietWhenEqual`, only when something differs) and
    /// the differences; returns the comparison's JSON object.
    func show(_ c: Comparison, quietWhenEqual: Bool = false) -> CopyReportJSON.Validation {
        if !c.matches { failed = true }
        if !(quietWhenEqual && c.matches) {
            let width = min(60, max(5, c.tables.map(\.name.count).max() ?? 5))
            func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
                s.count >= n
                    ? s
                    : (left
                        ? String(repeating: " ", count: n - s.count) + s
                        : s + String(repeating: " ", count: n - s.count))
            }
            printInfo("pgkeep: compare \(c.source) with \(c.target)")
            printInfo(
                pad("table", width) + "  " + pad("rows (a)", 12, left: true) + "  " + pad("rows (b)", 12, left: true)
                    + "  checksum")
            for t in c.tables {
                let line =
                    pad(t.name, width) + "  " + pad(t.sourceRows.map(String.init) ?? "-", 12, left: true) + "  "
                    + pad(t.targetRows.map(String.init) ?? "-", 12, left: true) + "  "
                    + (t.checksumMatch ? "match" : "DIFFERS")
                if t.matches { printInfo(line) } else { printStderr(line) }
            }
        }
        let differences = c.differences
        if differences.isEmpty {
            printInfo(
                "pgkeep: equal: \(c.tables.count) tables, \(c.sequences.count) sequences, "
                    + "\(c.largeObjects.sourceCount) large objects"
                    + (c.schema.map { ", schema (\($0.entries) entries)" } ?? ""))
        } else {
            printStderr("pgkeep: \(differences.count) differences; the first: ")
            for line in differences.prefix(10) { printStderr("  " + line) }
        }
        return CopyReportJSON.Validation(c)
    }

    func finish() {
        guard json else { return }
        printJSON(CopyReportJSON(globals: copiedGlobals, results: rows, ok: !failed))
    }
}

/// `copy`'s progress on a terminal (stderr a TTY, no --quiet): tables, bytes, rate, ETA, each second.
// `state` (a Locked) is held while a line is drawn, so that `stop` never comes between.
final class ProgressLine: Sendable {
    private struct State {
        var running: Bool
        var shown = false
    }
    private let state: Locked<State>

    init(read: @escaping @Sendable () -> CopyProgress) {
        let live = isatty(STDERR_FILENO) == 1 && !Output.quiet
        state = Locked(State(running: live))
        guard live else { return }
        Thread { [self] in
            while true {
                Thread.sleep(forTimeInterval: 1)
                // `read` takes the job's progress lock, never this one.
                let goOn = state.withLock { s -> Bool in
                    guard s.running else { return false }
                    let p = read()
                    guard p.tablesTotal > 0 else { return true }
                    let eta = p.eta.map { String(format: "ETA %d:%02d", Int($0) / 60, Int($0) % 60) } ?? "ETA ?"
                    Console.err(
                        "\r\u{1B}[Kpgkeep: copy: \(p.tablesDone)/\(p.tablesTotal) tables, "
                            + "\(BackupReporter.size(p.bytes)), " + String(format: "%.1f MB/s, ", p.rate / 1_000_000)
                            + eta)
                    s.shown = true
                    return true
                }
                guard goOn else { return }
            }
        }.start()
    }

    func stop() {
        state.withLock { s in
            if s.running && s.shown { Console.err("\r\u{1B}[K") }
            s.running = false
        }
    }
}
