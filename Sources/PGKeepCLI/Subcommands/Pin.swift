import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep pin`: exempt backups from pruning.
    struct Pin: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Exempt a backup from pruning (recorded in its manifest).")

        @Argument(help: ArgumentHelp("The backup's file, directory or manifest.", valueName: "backup"))
        var backups: [String]

        func run() throws {
            try reportingErrors("a pin") {
                for b in backups { printStderr("pgkeep: pinned \(try Pinning.set(b, pinned: true))") }
            }
        }
    }
}
