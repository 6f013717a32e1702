import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep unpin`: let the retention policy prune a pinned backup again.
    struct Unpin: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Let the retention policy prune a pinned backup again.")

        @Argument(help: ArgumentHelp("The backup's file, directory or manifest.", valueName: "backup"))
        var backups: [String]

        func run() throws {
            try reportingErrors("an unpin") {
                for b in backups { printStderr("pgkeep: unpinned \(try Pinning.set(b, pinned: false))") }
            }
        }
    }
}
