import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep prune`: delete the backups the retention policy does not keep.
    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete backups the retention policy does not keep (default: 7 daily, 4 weekly, 6 monthly).",
            discussion: "Only backups with a manifest count; files pgkeep did not make are never touched. Each database is pruned on its own; pinned backups are kept.")

        @Option(help: ArgumentHelp("Prune only this database.", valueName: "name"))
        var database: String?
        @OptionGroup var policy: PolicyOptions
        @Flag(name: .customLong("dry-run"), help: "Show what would be deleted; delete nothing.")
        var dryRun = false
        @OptionGroup var output: OutputOptions
        @OptionGroup var location: DirectoryOptions
        @OptionGroup var remoteOptions: RemoteOptions

        func run() throws {
            try reportingErrors {
                let env = ProcessInfo.processInfo.environment
                let config = try location.config(environment: env)
                try Settings.output(output, config: config)
                let policy = self.policy.policy(config: config)
                if let remote = try remoteOptions.explicitRemote(environment: env) {
                    report(try remote.prune(database: database, policy: policy, dryRun: dryRun), policy: policy)
                    return
                }
                let dir = try location.requireDirectory(environment: env, config: config)
                var job = PruneJob(directory: dir, database: database, policy: policy)
                job.dryRun = dryRun
                let result = try job.run()
                report(result, policy: policy)
            }
        }

        func report(_ r: PruneJob.Result, policy: RetentionPolicy) {
            let kept = r.items.count - r.deleted
            if output.json {
                struct Summary: Encodable {
                    var kept: Int, deleted: Int, dryRun: Bool, policy: String
                    var leftoversRemoved: [String], temporaryRemoved: [String], brokenManifests: [String], unmanagedFiles: [String]
                    enum CodingKeys: String, CodingKey {
                        case kept, deleted, policy, dryRun = "dry_run", leftoversRemoved = "leftovers_removed"
                        case temporaryRemoved = "temporary_removed", brokenManifests = "broken_manifests", unmanagedFiles = "unmanaged_files"
                    }
                }
                struct Tail: Encodable { var summary: Summary }
                RetentionReport.printJSON(rowsKey: "candidates", rows: r.items.map(RetentionReport.Row.init), tail: Tail(
                    summary: Summary(kept: kept, deleted: r.deleted, dryRun: r.dryRun, policy: policy.description,
                                     leftoversRemoved: r.leftovers, temporaryRemoved: r.temporary, brokenManifests: r.broken,
                                     unmanagedFiles: r.orphans)))
                return
            }
            for path in r.broken { printStderr("pgkeep: warning: \(path) has no readable data file beside it; it is not counted as a backup") }
            for path in r.orphans { printStderr("pgkeep: note: \(path) has no manifest: not a backup, not counted, left alone") }
            guard !Output.quiet else {
                Output.log?.append("pgkeep: \(r.dryRun ? "dry run: " : "")kept \(kept), deleted \(r.deleted) (policy: \(policy.description))")
                return
            }
            let verb = r.dryRun ? "would delete" : "deleted"
            RetentionReport.printTable(["DATABASE", "TIME", "FORMAT", "SIZE", "ACTION", "KEPT BY"],
                                       r.items.map { RetentionReport.cells($0, keepWord: "keep", deleteWord: verb) })
            let extra = r.leftovers.count + r.temporary.count
            printStderr("pgkeep: \(r.dryRun ? "dry run: " : "")kept \(kept), \(verb) \(r.deleted) (policy: \(policy.description))"
                        + (extra > 0 ? "; \(r.dryRun ? "would remove" : "removed") \(extra) leftover and temporary files" : ""))
        }
    }

    /// `pgkeep list`: the backups in a directory, newest first, and what keeps each one.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List backups, newest first, with the retention rule that keeps each one.")

        @Option(help: ArgumentHelp("Only this database.", valueName: "name"))
        var database: String?
        @OptionGroup var policy: PolicyOptions
        @Flag(help: "Print JSON on stdout.")
        var json = false
        @OptionGroup var location: DirectoryOptions
        @OptionGroup var remoteOptions: RemoteOptions

        func run() throws {
            try reportingErrors {
                let env = ProcessInfo.processInfo.environment
                let config = try location.config(environment: env)
                let policy = self.policy.policy(config: config)
                var mark = Date()
                let remote = try remoteOptions.explicitRemote(environment: env)
                let dir = try remote?.target ?? location.requireDirectory(environment: env, config: config)
                let scan = try remote?.scan(database: database) ?? CatalogScan.scan(dir, database: database)
                mark = Trace.phase("scan", since: mark)
                let items = PruneJob(directory: dir, database: database, policy: policy).plan(scan)
                mark = Trace.phase("plan", since: mark)
                defer { Trace.phase("print", since: mark) }
                if json {
                    struct Tail: Encodable {
                        var leftovers: [String], unmanagedFiles: [String], brokenManifests: [String], policy: String
                        enum CodingKeys: String, CodingKey {
                            case leftovers, policy, unmanagedFiles = "unmanaged_files", brokenManifests = "broken_manifests"
                        }
                    }
                    RetentionReport.printJSON(rowsKey: "backups", rows: items.map(RetentionReport.Row.init),
                                              tail: Tail(leftovers: scan.leftovers, unmanagedFiles: scan.orphans,
                                                         brokenManifests: scan.broken, policy: policy.description))
                    return
                }
                RetentionReport.printTable(["DATABASE", "TIME", "FORMAT", "SIZE", "LABEL", "PINNED", "KEPT BY"], items.map { item in
                    let m = item.entry.manifest
                    return [m.database, BackupName.isoString(item.entry.name.time), m.format.rawValue, BackupReporter.size(m.size),
                            m.label ?? "", m.pinned ? "yes" : "", item.decision.keep ? item.decision.reasons.joined(separator: ", ") : "(prune would delete)"]
                })
                for path in scan.leftovers { printStderr("pgkeep: leftover of an interrupted run (not a backup; prune removes it): \(path)") }
                for path in scan.orphans { printStderr("pgkeep: note: \(path) has no manifest: not a backup, left alone") }
                for path in scan.broken { printStderr("pgkeep: warning: manifest without a readable data file: \(path)") }
            }
        }
    }

    /// `pgkeep pin` / `pgkeep unpin`.
    struct Pin: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Exempt a backup from pruning (recorded in its manifest).")
        @Argument(help: ArgumentHelp("The backup's file, directory or manifest.", valueName: "backup"))
        var backups: [String]
        func run() throws { try setPinned(backups, true) }
    }

    struct Unpin: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let the retention policy prune a pinned backup again.")
        @Argument(help: ArgumentHelp("The backup's file, directory or manifest.", valueName: "backup"))
        var backups: [String]
        func run() throws { try setPinned(backups, false) }
    }
}

private func setPinned(_ backups: [String], _ pinned: Bool) throws {
    try reportingErrors {
        for b in backups { printStderr("pgkeep: \(pinned ? "pinned" : "unpinned") \(try Pinning.set(b, pinned: pinned))") }
    }
}
