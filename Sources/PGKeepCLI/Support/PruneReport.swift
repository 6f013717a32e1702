import Foundation
import PGKeep

/// What `pgkeep prune` prints: a table of every backup and its fate, or JSON.
struct PruneReport {
    let json: Bool
    let policy: RetentionPolicy

    func show(_ r: PruneJob.Result) {
        let kept = r.items.count - r.deleted
        if json {
            printJSON(r, kept: kept)
            return
        }
        for path in r.broken {
            printStderr("pgkeep: warning: \(path) has no readable data file beside it; it is not counted as a backup")
        }
        for path in r.orphans {
            printStderr("pgkeep: note: \(path) has no manifest: not a backup, not counted, left alone")
        }
        let dry = r.dryRun ? "dry run: " : ""
        guard !Output.quiet else {
            Output.record("pgkeep: \(dry)kept \(kept), deleted \(r.deleted) (policy: \(policy.description))")
            return
        }
        let verb = r.dryRun ? "would delete" : "deleted"
        RetentionReport.printTable(
            ["DATABASE", "TIME", "FORMAT", "SIZE", "ACTION", "KEPT BY"],
            r.items.map { RetentionReport.cells($0, keepWord: "keep", deleteWord: verb) })
        let extra = r.leftovers.count + r.temporary.count
        let removed =
            extra > 0 ? "; \(r.dryRun ? "would remove" : "removed") \(extra) leftover and temporary files" : ""
        printStderr("pgkeep: \(dry)kept \(kept), \(verb) \(r.deleted) (policy: \(policy.description))" + removed)
    }

    private struct Summary: Encodable {
        var kept: Int, deleted: Int, dryRun: Bool, policy: String
        var leftoversRemoved: [String], temporaryRemoved: [String], brokenManifests: [String]
        var unmanagedFiles: [String]
        enum CodingKeys: String, CodingKey {
            case kept, deleted, policy
            case dryRun = "dry_run"
            case leftoversRemoved = "leftovers_removed"
            case temporaryRemoved = "temporary_removed"
            case brokenManifests = "broken_manifests"
            case unmanagedFiles = "unmanaged_files"
        }
    }
    private struct Tail: Encodable { var summary: Summary }

    private func tail(_ r: PruneJob.Result, kept: Int, deleted: Int) -> Tail {
        Tail(
            summary: Summary(
                kept: kept, deleted: deleted, dryRun: r.dryRun, policy: policy.description,
                leftoversRemoved: r.leftovers, temporaryRemoved: r.temporary, brokenManifests: r.broken,
                unmanagedFiles: r.orphans))
    }

    private func printJSON(_ r: PruneJob.Result, kept: Int) {
        RetentionReport.printJSON(
            rowsKey: "candidates", rows: r.items.lazy.map(RetentionReport.Row.init),
            tail: tail(r, kept: kept, deleted: r.deleted))
    }

    /// `--dry-run --json` for a local directory, decided and printed a database at a time
    /// (`PruneJob.dryRun`): the same rows and keys as `show`.
    func printStreamedDryRun(_ job: PruneJob) throws -> PruneJob.Result {
        var result: PruneJob.Result?
        var kept = 0
        var deleted = 0
        try RetentionReport.printJSON(
            rowsKey: "candidates",
            eachRow: { emit in
                result = try job.dryRun { items in
                    for item in items {
                        if item.decision.keep { kept += 1 } else { deleted += 1 }
                        emit(RetentionReport.Row(item))
                    }
                }
            }, tail: { tail(result!, kept: kept, deleted: deleted) })
        return result!
    }
}

/// What `pgkeep list` prints: every backup, newest first, with what keeps it; or JSON.
struct ListReport {
    let json: Bool
    let policy: RetentionPolicy

    struct Tail: Encodable {
        var leftovers: [String], unmanagedFiles: [String], brokenManifests: [String], policy: String
        enum CodingKeys: String, CodingKey {
            case leftovers, policy
            case unmanagedFiles = "unmanaged_files"
            case brokenManifests = "broken_manifests"
        }

        init(_ scan: CatalogScan, policy: RetentionPolicy) {
            leftovers = scan.leftovers
            unmanagedFiles = scan.orphans
            brokenManifests = scan.broken
            self.policy = policy.description
        }
    }

    /// `--json` for a local directory, read and printed a database at a time
    /// (`CatalogScan.eachDatabase`): the same rows and keys as `show`.
    func printStreamed(directory: String, database: String?) throws {
        var rest = CatalogScan()
        let job = PruneJob(directory: directory, database: database, policy: policy)
        try RetentionReport.printJSON(
            rowsKey: "backups",
            eachRow: { emit in
                rest = try CatalogScan.eachDatabase(directory, database: database, cached: true) { part in
                    for item in job.plan(part) { emit(RetentionReport.Row(item)) }
                }
            }, tail: { Tail(rest, policy: policy) })
    }

    func show(_ items: [PruneJob.Item], scan: CatalogScan) {
        if json {
            RetentionReport.printJSON(
                rowsKey: "backups", rows: items.lazy.map(RetentionReport.Row.init), tail: Tail(scan, policy: policy))
            return
        }
        RetentionReport.printTable(
            ["DATABASE", "TIME", "FORMAT", "SIZE", "LABEL", "PINNED", "KEPT BY"],
            items.map { item in
                let m = item.entry.manifest
                let keptBy = item.decision.keep ? item.decision.reasons.joined(separator: ", ") : "(prune would delete)"
                let size = BackupReporter.size(m.size) + (m.isAnomalous ? " !shrank" : "")
                return [
                    m.database, BackupName.isoString(item.entry.name.time), m.format.rawValue,
                    size, m.label ?? "", m.pinned ? "yes" : "", keptBy,
                ]
            })
        for line in Sparkline.lines(items.map(\.entry)) { printStderr(line) }
        for path in scan.leftovers {
            printStderr("pgkeep: leftover of an interrupted run (not a backup; prune removes it): \(path)")
        }
        for path in scan.orphans { printStderr("pgkeep: note: \(path) has no manifest: not a backup, left alone") }
        for path in scan.broken { printStderr("pgkeep: warning: manifest without a readable data file: \(path)") }
    }
}

/// Per database, the sizes of its last backups as a sparkline, oldest to newest, with a mark
/// under the anomalous (!) and pinned (p) ones. Block characters when the terminal speaks UTF-8,
/// else ASCII.
enum Sparkline {
    static let blocks = Array("▁▂▃▄▅▆▇█")
    static let ascii = Array("_.-=+*#@")
    static let width = 30

    static var utf8: Bool {
        let env = ProcessInfo.processInfo.environment
        let locale = env["LC_ALL"].flatMap { $0.isEmpty ? nil : $0 } ?? env["LC_CTYPE"] ?? env["LANG"] ?? ""
        return locale.uppercased().contains("UTF-8") || locale.uppercased().contains("UTF8")
    }

    /// `backups` as `PruneJob.plan` orders them (by database, newest first): no second sort.
    static func lines(_ backups: [CatalogScan.Backup], unicode: Bool = utf8) -> [String] {
        var out: [String] = []
        var start = backups.startIndex
        while start < backups.endIndex {
            let db = backups[start].manifest.database
            let globals = backups[start].name.format == .globals
            var end = start
            while end < backups.endIndex, backups[end].manifest.database == db,
                (backups[end].name.format == .globals) == globals
            {
                end += 1
            }
            let recent = backups[start..<min(end, start + width)].reversed()
            start = end
            guard !globals, recent.count > 1 else { continue }
            let (line, marks) = render(
                recent.map { ($0.manifest.size, $0.manifest.isAnomalous, $0.manifest.pinned) }, unicode: unicode)
            let pad = String(repeating: " ", count: db.count + 2)
            out.append("\(db): \(line)" + (marks.contains { $0 != " " } ? "\n\(pad)\(marks)" : ""))
        }
        return out
    }

    /// One character per backup, scaled from the smallest to the largest, and the mark line.
    static func render(_ points: [(size: Int64, anomalous: Bool, pinned: Bool)], unicode: Bool) -> (String, String) {
        let chars = unicode ? blocks : ascii
        let low = points.map(\.size).min() ?? 0
        let high = points.map(\.size).max() ?? 0
        let line = String(
            points.map { p -> Character in
                guard high > low else { return chars[chars.count - 1] }
                let index = Int(Double(p.size - low) / Double(high - low) * Double(chars.count - 1) + 0.5)
                return chars[min(chars.count - 1, max(0, index))]
            })
        let marks = String(points.map { $0.anomalous ? "!" : $0.pinned ? "p" : " " })
        return (line, marks.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression))
    }
}
