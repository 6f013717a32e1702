import Foundation
import Testing

@testable import PGKeep

/// The daemon's pure parts: cron times (in UTC and in a zone with daylight saving), the catch-up
/// rule, and config keys from PGKEEP_<TABLE>_<KEY> variables.
@Suite struct DaemonLogicTests {
    static func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }
    static let utc = TimeZone(identifier: "UTC")!

    @Test(arguments: [
        ("* * * * *", "2026-12-02T07:31:20Z", "2026-12-02T07:32:00Z"),
        ("0 3 * * *", "2026-12-02T03:00:00Z", "2026-12-03T03:00:00Z"),
        ("0 3 * * *", "2026-12-02T02:59:59Z", "2026-12-02T03:00:00Z"),
        ("*/15 * * * *", "2026-12-02T07:46:00Z", "2026-12-02T08:00:00Z"),
        ("30 2 * * 1", "2026-12-02T00:00:00Z", "2026-12-07T02:30:00Z"),  // Monday
        ("0 0 1,15 * 0", "2026-12-02T00:00:00Z", "2026-12-06T00:00:00Z"),  // a Sunday comes before the 15th
        ("0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
        ("0 12 * 6-8/2 *", "2026-12-02T00:00:00Z", "2027-06-01T12:00:00Z"),
        ("@weekly", "2026-12-02T00:00:00Z", "2026-12-06T00:00:00Z"),
        ("5 4 * * 7", "2026-12-06T04:05:00Z", "2026-12-13T04:05:00Z"),
    ])
    func nextTimes(expression: String, after: String, expected: String) throws {
        let cron = try CronExpression(expression)
        #expect(cron.next(after: Self.date(after), in: Self.utc) == Self.date(expected))
    }

    @Test func timesInAZoneFollowItsClock() throws {
        let berlin = TimeZone(identifier: "Europe/Berlin")!
        let cron = try CronExpression("0 3 * * *")
        // Winter: 03:00 in Berlin is 02:00 UTC; summer: 01:00 UTC.
        #expect(cron.next(after: Self.date("2026-12-02T00:00:00Z"), in: berlin) == Self.date("2026-12-02T02:00:00Z"))
        #expect(cron.next(after: Self.date("2026-07-02T00:00:00Z"), in: berlin) == Self.date("2026-07-02T01:00:00Z"))
        #expect(cron.interval(after: Self.date("2026-12-02T00:00:00Z"), in: berlin) == 86400)
    }

    @Test func impossibleAndInvalidExpressions() throws {
        #expect(try CronExpression("0 0 31 2 *").next(after: Self.date("2026-01-01T00:00:00Z"), in: Self.utc) == nil)
        for bad in ["* * * *", "60 * * * *", "* 24 * * *", "5-1 * * * *", "*/0 * * * *", "a * * * *", "* * 0 * *"] {
            #expect(throws: PGKeepError.self, "\(bad)") { try CronExpression(bad) }
        }
    }

    @Test func catchUpOnlyWhenABackupIsOlderThanOneInterval() throws {
        var askedFor: TimeInterval?
        let stale = Daemon(
            cron: try CronExpression("0 3 * * *"), zone: Self.utc, run: Command(executable: "/bin/true", arguments: [])
        ) { maxAge in
            askedFor = maxAge
            return false
        }
        #expect(stale.catchUpNeeded().needed)
        #expect(askedFor == 86400)
        let fresh = Daemon(
            cron: try CronExpression("*/10 * * * *"), zone: Self.utc,
            run: Command(executable: "/bin/true", arguments: [])
        ) { _ in true }
        #expect(!fresh.catchUpNeeded().needed)
    }

    @Test func theDaemonRunsAtEachTimeAndNeverTwoAtOnce() throws {
        let log = Locked<[String]>([])
        var clock = Self.date("2026-12-02T07:30:10Z")
        let daemon = Daemon(
            cron: try CronExpression("*/5 * * * *"), zone: Self.utc,
            run: Command(executable: "/bin/sh", arguments: ["-c", "exit 0"])
        ) { _ in true }
        daemon.now = { clock }
        daemon.wait = { clock = clock.addingTimeInterval($0) }
        daemon.log = { line in log.withLock { $0.append(line) } }
        try daemon.serve(iterations: 3)
        let lines = log.current
        #expect(lines.filter { $0.contains("run started") }.count == 3)
        #expect(
            lines.filter { $0.contains("next run at") }.map { String($0.suffix(20)) } == [
                "2026-12-02 07:35 UTC", "2026-12-02 07:40 UTC", "2026-12-02 07:45 UTC",
            ])
        #expect(!lines.contains { $0.contains("running once now") })
    }

    @Test func everyKeyFromItsVariable() throws {
        let env = [
            "PGKEEP_BACKUP_DIR": "/backups", "PGKEEP_BACKUP_DATABASES": "[\"shop\", \"crm\"]",
            "PGKEEP_RETENTION_KEEP_DAILY": "3", "PGKEEP_SCHEDULE_CRON": "0 3 * * *", "PGKEEP_BACKUP_COMPRESS": "zstd:3",
            "PGKEEP_CONNECTION_HOST": "db", "PGKEEP_BACKUP_ROW_COUNTS": "true",
        ]
        let config = try #require(try PGKeepConfig.load(path: nil, environment: env))
        #expect(config.directory == "/backups")
        #expect(config.databases == .list(["shop", "crm"]))
        #expect(config.retention?.daily == 3)
        #expect(config.scheduleCron?.text == "0 3 * * *")
        #expect(config.compression?.description == "zstd:3")
        #expect(config.host == "db" && config.rowCounts == true)
        #expect(try PGKeepConfig.load(path: nil, environment: ["PGKEEP_DIR": "/x"]) == nil)
        // Every key has its variable, and no two share one.
        let names = ConfigKey.all.map(\.environmentName)
        #expect(Set(names).count == names.count)
    }

    @Test func aVariableWinsOverTheFileAndIsCheckedTheSame() throws {
        let dir = NSTemporaryDirectory() + "pgkeep-envcfg-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/pgkeep.toml"
        try "[backup]\ndir = \"from-file\"\nlabel = \"file\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        let config = try PGKeepConfig.load(path: path, environment: ["PGKEEP_BACKUP_LABEL": "env"])
        #expect(config?.label == "env" && config?.directory == dir + "/from-file")
        do {
            _ = try PGKeepConfig.load(path: path, environment: ["PGKEEP_RETENTION_KEEP_DAILY": "lots"])
            Issue.record("a bad value was accepted")
        } catch let error as PGKeepError {
            #expect(error.message.hasPrefix("PGKEEP_RETENTION_KEEP_DAILY (retention.keep_daily)"), "\(error.message)")
        }
        #expect(throws: PGKeepError.self) {
            try PGKeepConfig.load(path: nil, environment: ["PGKEEP_SCHEDULE_CRON": "every night"])
        }
        // A variable cannot replace one of several [[remote]] destinations (it would replace them all).
        try "[[remote]]\ntarget = \"a:x\"\n[[remote]]\ntarget = \"b:y\"\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: PGKeepError.self) {
            try PGKeepConfig.load(path: path, environment: ["PGKEEP_REMOTE_TARGET": "c:z"])
        }
        #expect(try PGKeepConfig.load(path: path, environment: [:])?.destinations.map(\.target) == ["a:x", "b:y"])
    }
}

extension DaemonLogicTests {
    /// docs/daemon.md's table of variables is the table of keys: none missing, none stale.
    @Test func theDaemonPageNamesEveryVariable() throws {
        let page = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/daemon.md")
        let text = try String(contentsOf: page, encoding: .utf8)
        for key in ConfigKey.all {
            #expect(text.contains("`\(key.environmentName)`"), "docs/daemon.md lacks \(key.environmentName)")
        }
        let named = text.components(separatedBy: "`PGKEEP_").dropFirst().compactMap { $0.split(separator: "`").first }
            .map { "PGKEEP_" + $0 }
        // PGKEEP_BACKUP_PATH is what hooks get, not a key.
        let known = Set(ConfigKey.all.map(\.environmentName) + ["PGKEEP_BACKUP_PATH"])
        for name in named where name.split(separator: "_").count > 2 && !known.contains(name) {
            let table = String(name.split(separator: "_")[1]).lowercased()
            #expect(!ConfigKey.tables.contains(table), "docs/daemon.md names \(name), which is no key")
        }
    }
}
