import Foundation
import Testing

@testable import PGKeepCLI

/// The reference stays whole: every command and option the binary has is documented in docs/
/// (or README), and every link between the pages leads to a file that exists.
@Suite struct DocumentationTests {
    /// A command of the tree: its words after `pgkeep` and its options' long names (hidden ones left out).
    struct CommandInfo {
        var words: [String]
        var options: [[String]]
    }

    /// The command tree as swift-argument-parser describes it (what `--experimental-dump-help`
    /// prints and what generate-manual reads).
    static func commandTree() throws -> [CommandInfo] {
        let dump = try #require(
            try JSONSerialization.jsonObject(with: Data(PGKeepCommand._dumpHelp().utf8)) as? [String: Any])
        var found: [CommandInfo] = []
        func walk(_ command: [String: Any], _ words: [String]) {
            var options: [[String]] = []
            for argument in command["arguments"] as? [[String: Any]] ?? [] {
                guard argument["shouldDisplay"] as? Bool ?? true else { continue }
                let names = (argument["names"] as? [[String: Any]] ?? []).filter { $0["kind"] as? String == "long" }
                    .compactMap { $0["name"] as? String }
                if !names.isEmpty { options.append(names) }
            }
            found.append(CommandInfo(words: words, options: options))
            for sub in command["subcommands"] as? [[String: Any]] ?? [] {
                walk(sub, words + [sub["commandName"] as? String ?? "?"])
            }
        }
        walk(try #require(dump["command"] as? [String: Any]), [])
        return found
    }

    @Test func everyCommandAndOptionIsDocumented() throws {
        let pages = try CommandLineTests.documentation()
        let text = pages.map(\.text).joined(separator: "\n")
        var examples = Set<String>()
        for page in pages {
            for args in try CommandLineTests.commands(in: page.text, page: page.path) {
                examples.insert(args.prefix { !$0.hasPrefix("-") }.prefix(2).joined(separator: " "))
            }
        }
        let tree = try Self.commandTree()
        #expect(tree.count > 15, "the command tree was read")
        for command in tree where !command.words.isEmpty && command.words != ["help"] {
            let name = command.words.joined(separator: " ")
            #expect(
                examples.contains { $0 == name || $0.hasPrefix(name + " ") },
                "no example of `pgkeep \(name)` in a shell block of README or docs/")
            // The option as a word: `--key` is not found inside `--keyring`.
            let named = { (name: String) in
                text.range(of: "--\(name)(?![a-z0-9-])", options: .regularExpression) != nil
            }
            for names in command.options where !names.contains(where: named) {
                Issue.record("`pgkeep \(name)` has --\(names[0]), which neither README nor docs/ mention")
            }
        }
    }

    @Test func everyLinkBetweenThePagesLeadsToAFile() throws {
        let pattern = try Regex(#"\]\(([^)#:]+)(#[^)]*)?\)"#)
        for page in try CommandLineTests.documentation() {
            let folder = CommandLineTests.root.appendingPathComponent(page.path).deletingLastPathComponent()
            for match in page.text.matches(of: pattern) {
                guard let target = match.output[1].substring else { continue }
                let path = folder.appendingPathComponent(String(target)).standardized.path
                #expect(
                    FileManager.default.fileExists(atPath: path), "\(page.path) links to \(target), which is missing")
            }
        }
    }
}
