import Foundation
import Testing

@testable import PGKeep

/// One resolution for every setting: flag > environment > config file > default.
@Suite struct SettingsTests {
    static func settings(_ toml: String?, env: [String: String] = [:]) throws -> Settings {
        Settings(environment: env, config: try toml.map { try PGKeepConfig.parse($0, path: "/etc/pgkeep/c.toml") })
    }

    @Test func directoryComesFromTheFlagThenTheEnvironmentThenTheFile() throws {
        let file = "[backup]\ndir = \"/from/file\"\n"
        #expect(try Self.settings(file, env: ["PGKEEP_DIR": "/from/env"]).directory(flag: "/from/flag") == "/from/flag")
        #expect(try Self.settings(file, env: ["PGKEEP_DIR": "/from/env"]).directory(flag: nil) == "/from/env")
        #expect(try Self.settings(file, env: ["PGKEEP_DIR": ""]).directory(flag: nil) == "/from/file")
        #expect(throws: PGKeepError.self) { try Self.settings(nil).directory(flag: nil) }
    }

    @Test func pgBinQuietLogAndMaxAge() throws {
        let file =
            "[connection]\npg_bin = \"bin\"\n[log]\nquiet = true\nfile = \"pgkeep.log\"\n[status]\nmax_age = \"2d\"\n"
        let s = try Self.settings(file, env: ["PGKEEP_PG_BIN": "/env/bin"])
        #expect(s.pgBin(flag: "/flag/bin") == "/flag/bin")
        #expect(s.pgBin(flag: nil) == "/env/bin")
        #expect(try Self.settings(file).pgBin(flag: nil) == "/etc/pgkeep/bin", "relative to the config file")
        #expect(s.quiet(flag: false) && s.quiet(flag: true))
        #expect(!(try Self.settings(nil).quiet(flag: false)))
        #expect(s.logFile(flag: nil) == "/etc/pgkeep/pgkeep.log")
        #expect(s.logFile(flag: "/x.log") == "/x.log")
        #expect(try s.maxAge(flag: nil) == 2 * 86400)
        #expect(try s.maxAge(flag: "90m") == 5400)
        #expect(try Self.settings(nil).maxAge(flag: nil) == 26 * 3600)
    }

    @Test func eachKeepFlagOverridesOnlyItsRule() throws {
        let s = try Self.settings("[retention]\nkeep_daily = 10\nkeep_monthly = \"unlimited\"\n")
        #expect(s.policy(RetentionFlags()) == RetentionPolicy(daily: 10, weekly: 4, monthly: -1))
        #expect(
            s.policy(RetentionFlags(daily: 3, yearly: -1))
                == RetentionPolicy(daily: 3, weekly: 4, monthly: -1, yearly: -1))
        #expect(try Self.settings(nil).policy(RetentionFlags()) == RetentionPolicy())
    }

    @Test func backupOptionsFromFlagsOverTheFile() throws {
        let file = """
            [backup]
            dir = "/b"
            format = "plain"
            compress_level = 4
            threads = 3
            row_counts = true
            label = "nightly"
            """
        let s = try Self.settings(file)
        let fromFile = try s.backupOptions(BackupFlags(), directoryFlag: nil)
        #expect(
            fromFile.directory == "/b" && fromFile.format == .plain
                && fromFile.compression == CompressionChoice(codec: .gzip, level: 4))
        #expect(
            fromFile.workers == 3 && fromFile.rowCounts && fromFile.label == "nightly" && fromFile.destinations.isEmpty)
        var flags = BackupFlags()
        flags.format = .custom
        flags.compression = CompressionChoice(codec: nil)
        flags.label = "before-migration"
        let fromFlags = try s.backupOptions(flags, directoryFlag: "/other")
        #expect(fromFlags.directory == "/other" && fromFlags.format == .custom && !fromFlags.compressed)
        #expect(fromFlags.label == "before-migration" && fromFlags.workers == 3)
        // snapshot fixes its own: custom, pinned, all, no row counts inside compose
        let snap = try s.backupOptions(
            SnapshotJob.backupFlags(label: "pre-upgrade", inCompose: true), directoryFlag: nil)
        #expect(snap.format == .custom && snap.pin && snap.all && !snap.rowCounts && snap.label == "pre-upgrade")
        #expect(snap.jobs == 1 && snap.compression.level == 4)
    }

    @Test func zstdFromTheFileOrTheFlag() throws {
        let s = try Self.settings("[backup]\ndir = \"/b\"\ncompress = \"zstd:7\"\n")
        let fromFile = try s.backupOptions(BackupFlags(), directoryFlag: nil)
        #expect(fromFile.compression == CompressionChoice(codec: .zstd, level: 7))
        #expect(fromFile.codec == .zstd)
        var flags = BackupFlags()
        flags.compression = CompressionChoice(codec: .gzip)
        #expect(try s.backupOptions(flags, directoryFlag: nil).compression == CompressionChoice(codec: .gzip, level: 6))
        var directory = try Self.settings("[backup]\ndir = \"/b\"\nformat = \"directory\"\ncompress = \"zstd\"\n")
            .backupOptions(BackupFlags(), directoryFlag: nil)
        #expect(throws: PGKeepError.self) { try directory.validate() }
        directory.compression = CompressionChoice(codec: .gzip)
        try directory.validate()
    }

    @Test func encryptionFlagsReplaceTheFilesRecipients() throws {
        let recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
        let s = try Self.settings("[backup]\ndir = \"/b\"\n[encryption]\nrecipients = [\"\(recipient)\"]\n")
        #expect(try s.backupOptions(BackupFlags(), directoryFlag: nil).encryptTo == [recipient])
        var flags = BackupFlags()
        flags.encryptTo = ["age1other"]
        #expect(try s.backupOptions(flags, directoryFlag: nil).encryptTo == ["age1other"])
    }

    @Test func runChoosesItsDatabases() throws {
        let spec = ConnectionSpec(parameters: ["dbname": "conn"])
        func chosen(_ file: String?, _ names: [String], all: Bool = false) throws -> (Bool, [String]) {
            let s = try Self.settings(file)
            var o = BackupOptions(directory: "/b")
            s.selectDatabases(names, all: all, connection: spec, into: &o)
            return (o.all, o.databases)
        }
        #expect(try chosen(nil, []) == (false, ["conn"]))
        #expect(try chosen(nil, ["a", "b"]) == (false, ["a", "b"]))
        #expect(try chosen(nil, ["a"], all: true) == (true, []))
        #expect(try chosen("[backup]\ndatabases = \"all\"\n", []) == (true, []))
        #expect(try chosen("[backup]\ndatabases = \"all\"\n", ["x"]) == (false, ["x"]))
        #expect(try chosen("[backup]\ndatabases = [\"shop\", \"crm\"]\n", []) == (false, ["shop", "crm"]))
    }

    @Test func hooksFromFlagsOverTheFileAndThePasswordVariableWithheld() throws {
        let file = "[connection]\npassword_env = \"SHOP_PW\"\n[hooks]\non_success = [\"/bin/true\"]\n"
        let hooks = try Self.settings(file).hooks(onSuccess: nil, onFailure: "notify --to 'ops team'")
        #expect(hooks.onSuccess == ["/bin/true"])
        #expect(hooks.onFailure == ["notify", "--to", "ops team"])
        #expect(hooks.withheld.contains("SHOP_PW"))
    }

    @Test func everyConfigKeyIsReadAndShownByConfigCheck() throws {
        // One table drives both: a file with every key parses, and config check shows each table.
        let keys = ConfigKey.all.map(\.qualified)
        #expect(Set(keys).count == keys.count, "no key twice")
        let example = try String(contentsOfFile: Self.examplesPath("pgkeep.toml"), encoding: .utf8)
        let lines = Settings(environment: [:], config: try PGKeepConfig.parse(example, path: "/etc/pgkeep/pgkeep.toml"))
            .effectiveLines()
        for shown in ["jobs", "threads", "row_counts", "label", "remote", "recipients", "max_age", "retention"] {
            #expect(lines.contains { $0.hasPrefix(shown + " ") }, "config check shows \(shown)")
        }
    }

    static func examplesPath(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Examples/\(name)").path
    }

    /// A destination's retention: the flags over its own [remote.retention] over [retention].
    @Test func destinationRetentionSitsBetweenTheFlagsAndTheFile() throws {
        var config = PGKeepConfig(path: "/x.toml")
        config.retention = RetentionPolicy(last: 2, hourly: 0, daily: 5, weekly: 4, monthly: 6, yearly: 0)
        let settings = Settings(environment: [:], config: config)
        let nas = RemoteDestination(name: "nas", target: "nas:/x", retention: RetentionFlags(daily: 30))
        let own = settings.policy(RetentionFlags(), destination: nas)
        #expect(own.daily == 30 && own.last == 2 && own.weekly == 4)
        let flagged = settings.policy(RetentionFlags(daily: 365), destination: nas)
        #expect(flagged.daily == 365 && flagged.last == 2)
    }
}
