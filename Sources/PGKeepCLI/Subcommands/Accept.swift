import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep accept`: the shrink the guard found in a backup was intended.
    struct Accept: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record that a backup's shrink was intended: it is no longer an anomaly.",
            discussion:
                "status stops reporting ANOMALY for it, and prune no longer keeps the last normal backup for its sake.")

        @Argument(help: ArgumentHelp("The backup's file, directory or manifest.", valueName: "backup"))
        var backups: [String]

        func run() throws {
            try reportingErrors("an accept") {
                for b in backups { printStderr("pgkeep: accepted the shrink of \(try Pinning.accept(b))") }
            }
        }
    }
}
