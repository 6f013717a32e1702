import ArgumentParser
import Foundation
import PGKeep

extension PGKeepCommand {
    /// `pgkeep report --html FILE`: the daemon's status page as one static file.
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the status page (every database's backups, retention, drills, failures) as one HTML file.",
            discussion: """
                The page the daemon serves at /, as one file with no script and no external asset: put it \
                behind any web server or attach it to an email. Exit 0 once it is written, whatever the status \
                (run `pgkeep status` for an exit code); the file is replaced atomically and is 0600.
                """)

        @Option(
            name: .customLong("html"),
            help: ArgumentHelp("Where to write the page (- for stdout).", valueName: "file"))
        var html: String
        @OptionGroup var location: DirectoryOptions

        func run() throws {
            try reportingErrors("the report") {
                let settings = try location.settings()
                let view = settings.statusView(StatusQuery(directoryFlag: location.directory))
                let page = StatusPage.render(view)
                if html == "-" {
                    Console.out(page)
                } else {
                    try FileSystem.replace(FileSystem.absolutePath(html), with: Data(page.utf8))
                    printStderr(
                        "pgkeep: wrote the status page to \(html) (\(view.ok ? "all fresh" : "needs attention"))")
                }
            }
        }
    }
}
