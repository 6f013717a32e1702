import ArgumentParser
import Foundation
import Testing

@testable import PGKeep
@testable import PGKeepCLI

/// The command line as users type it: every `pgkeep` line in README and docs/ parses, and the
/// spellings the documentation promises mean what it says.
@Suite struct CommandLineTests {
    /// The repository's root folder.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// README.md and every page of docs/, by their path from the root.
    static func documentation() throws -> [(path: String, text: String)] {
        let pages = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("docs").path)
            .filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
        return try (["README.md"] + pages).map {
            ($0, try String(contentsOf: root.appendingPathComponent($0), encoding: .utf8))
        }
    }

    /// Every command line in a page's shell blocks (comments dropped, continuations joined).
    static func commands(in text: String, page: String) throws -> [[String]] {
        var commands: [[String]] = []
        var inShell = false
        var pending = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.hasPrefix("```") {
                inShell = line == "```sh" || line == "```bash"
                continue
            }
            guard inShell else { continue }
            var code = pending + line
            pending = ""
            if code.hasSuffix("\\") {
                pending = String(code.dropLast()) + " "
                continue
            }
            if let hash = code.range(of: "  #") ?? code.range(of: " # ") { code = String(code[..<hash.lowerBound]) }
            let trimmed = code.trimmingCharacters(in: .whitespaces)
            guard !trimmed.hasPrefix("#"), trimmed.contains("pgkeep") else { continue }
            var words = try ShellWords.split(code, option: page)
            // `VAR=value pgkeep ...` and an absolute path to the binary, as in the crontab line.
            while let first = words.first, first.contains("="), !first.hasPrefix("-") { words.removeFirst() }
            if words.count >= 5, words[0].first?.isNumber == true || words[0] == "*" { words.removeFirst(5) }
            guard let first = words.first, first == "pgkeep" || first.hasSuffix("/pgkeep") else { continue }
            // Stop at a pipe or a redirection: the rest is another program's.
            let args = Array(words.dropFirst().prefix { !["|", ">", "&&", ";"].contains($0) })
            if !["help", "--help"].contains(args.first ?? "") { commands.append(args) }
        }
        return commands
    }

    @Test func everyCommandInReadmeAndDocsParses() throws {
        var total = 0
        for page in try Self.documentation() {
            let commands = try Self.commands(in: page.text, page: page.path)
            total += commands.count
            for args in commands {
                do {
                    _ = try PGKeepCommand.parseAsRoot(args)
                } catch {
                    Issue.record(
                        "\(page.path): pgkeep \(args.joined(separator: " ")): \(PGKeepCommand.message(for: error))")
                }
            }
        }
        #expect(total > 40, "the documentation's examples were found")
    }

    /// Parses `args` as the command `T` and returns it.
    static func parse<T: ParsableCommand>(_ args: [String], as type: T.Type) throws -> T {
        let command = try PGKeepCommand.parseAsRoot(args)
        return try #require(command as? T, "\(args) parsed as \(Swift.type(of: command))")
    }

    static let retentionSpellings: [([String], RetentionFlags)] = [
        (["prune", "--keep-daily", "-1"], RetentionFlags(daily: -1)),
        (["prune", "--keep-daily=-1"], RetentionFlags(daily: -1)),
        (["prune", "--keep-daily", "unlimited"], RetentionFlags(daily: -1)),
        (["prune", "--keep-daily", "14", "--keep-monthly", "12"], RetentionFlags(daily: 14, monthly: 12)),
        (["prune", "--keep-yearly", "-1", "--dry-run"], RetentionFlags(yearly: -1)),
        (["list", "--keep-last", "3", "--keep-hourly", "unlimited"], RetentionFlags(last: 3, hourly: -1)),
        (["run", "--keep-weekly", "-1", "--keep-monthly", "0"], RetentionFlags(weekly: -1, monthly: 0)),
        (["backup", "--prune", "--keep-last", "-1"], RetentionFlags(last: -1)),
    ]

    @Test(arguments: retentionSpellings)
    func retentionCountsWithASpaceOrAWord(args: [String], expected: RetentionFlags) throws {
        let command = try PGKeepCommand.parseAsRoot(args)
        let flags: RetentionFlags? =
            switch command {
            case let c as PGKeepCommand.Prune: c.policy.flags
            case let c as PGKeepCommand.List: c.policy.flags
            case let c as PGKeepCommand.Run: c.policy.flags
            case let c as PGKeepCommand.Backup: c.policy.flags
            default: nil
            }
        #expect(flags == expected, "\(args)")
    }

    static let refusals: [([String], String)] = [
        (["prune", "--keep-daily", "-2"], "--keep-daily"),
        (["prune", "--keep-weekly", "many"], "--keep-weekly"),
        (["prune", "--keep-last"], "--keep-last"),
        (["backup", "--compress-level", "12"], "--compress-level"),
        (["backup", "-Z", "-1"], "--compress-level"),
        (["backup", "--threads", "-4"], "--threads"),
        (["backup", "--jobs", "0"], "--jobs"),
        (["backup", "--threads", "0"], "--threads"),
        (["backup", "--threads", "two"], "--threads"),
        (["backup", "--port", "99999"], "--port"),
        (["backup", "-p", "abc"], "--port"),
        (["restore", "x.dump.gz", "--jobs", "0"], "--jobs"),
        (["restore", "x.dump.gz", "-j", "two"], "-j"),
        (["restore", "x.dump.gz", "--jobs", "-2"], "--jobs"),
        (["status", "--max-age", "soon"], "--max-age"),
    ]

    @Test(arguments: refusals)
    func nonsenseNumbersAreRefusedNamingTheFlag(args: [String], flag: String) {
        do {
            _ = try PGKeepCommand.parseAsRoot(args)
            Issue.record("\(args) was accepted")
        } catch {
            let message = PGKeepCommand.message(for: error)
            #expect(message.contains(flag), "\(args): \(message)")
        }
    }

    @Test func backupFlagsMeanWhatReadmeSays() throws {
        let b = try Self.parse(
            ["backup", "-h", "127.0.0.1", "-U", "backup", "-d", "shop", "--dir", "/backups", "--format", "plain"],
            as: PGKeepCommand.Backup.self)
        #expect(b.connection.flags == ConnectionFlags(dbname: "shop", host: "127.0.0.1", username: "backup"))
        #expect(b.location.directory == "/backups")
        #expect(b.dump.flags.format == .plain)
        func compression(_ args: [String]) throws -> CompressionChoice? {
            try Self.parse(["backup"] + args, as: PGKeepCommand.Backup.self).dump.flags.compression
        }
        #expect(try compression(["--no-compress"]) == CompressionChoice(codec: nil))
        #expect(try compression(["-Z", "9"]) == CompressionChoice(codec: .gzip, level: 9))
        #expect(try compression(["--compress", "zstd"]) == CompressionChoice(codec: .zstd, level: 3))
        #expect(try compression(["--compress", "zstd:12"]) == CompressionChoice(codec: .zstd, level: 12))
        #expect(try compression([]) == nil, "not given: the config decides")
        for bad in [["--compress", "zstd:30"], ["--compress", "zstd", "-Z", "4"], ["--compress", "lz4"]] {
            #expect(throws: (any Error).self, "\(bad)") { _ = try compression(bad) }
        }
        #expect(
            try Self.parse(["backup"], as: PGKeepCommand.Backup.self).dump.flags.rowCounts == nil,
            "not given: the config decides")
        let d = try Self.parse(
            ["backup", "--docker-compose", "db", "--compose-command", "docker-compose"], as: PGKeepCommand.Backup.self)
        #expect(d.docker.flag == DockerComposeOptions(service: "db", composeCommand: "docker-compose"))
    }
}

/// `list`'s per-database history line.
struct SparklineTests {
    @Test func sizesScaleFromSmallestToLargestWithMarks() {
        let (line, marks) = Sparkline.render(
            [(100, false, true), (550, false, false), (1000, false, false), (10, true, false)], unicode: true)
        #expect(line == "▂▅█▁")
        #expect(marks == "p  !")
        let (ascii, none) = Sparkline.render([(5, false, false), (5, false, false)], unicode: false)
        #expect(ascii == "@@" && none.isEmpty)
    }
}
