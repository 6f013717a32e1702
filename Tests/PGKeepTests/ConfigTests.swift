import Foundation
import Testing

@testable import PGKeep

@Suite struct ConfigTests {
    static let full = """
        # pgkeep config
        [connection]
        uri = "postgresql://backup@db.example.com:5433/shop?sslmode=require"
        password_file = "secrets/pg"
        pg_bin = "/usr/lib/postgresql/15/bin"

        [backup]
        dir = "/var/backups/pgkeep"
        format = "plain"
        compress_level = 4
        databases = ["shop", "crm"]
        row_counts = true

        [retention]
        keep_daily = 10
        keep_monthly = -1

        [docker_compose]
        service = "db"
        files = ["compose.yml"]

        [hooks]
        on_success = ["/usr/local/bin/ping", "ok"]
        on_failure = ["/usr/bin/logger", "-t", "pgkeep", "backup failed"]

        [log]
        file = "/var/log/pgkeep.log"

        [status]
        max_age = "26h"
        """

    @Test func everyTableIsRead() throws {
        let c = try PGKeepConfig.parse(Self.full, path: "/etc/pgkeep/pgkeep.toml")
        #expect(c.uri == "postgresql://backup@db.example.com:5433/shop?sslmode=require")
        #expect(c.passwordFile == "/etc/pgkeep/secrets/pg", "relative to the config file's folder")
        #expect(c.directory == "/var/backups/pgkeep")
        #expect(c.format == .plain)
        #expect(c.compression == CompressionChoice(codec: .gzip, level: 4))
        #expect(c.databases == .list(["shop", "crm"]))
        #expect(c.rowCounts == true)
        #expect(c.retention == RetentionPolicy(daily: 10, weekly: 4, monthly: -1), "unset keys keep the defaults")
        #expect(c.dockerCompose == DockerComposeOptions(service: "db", composeFiles: ["/etc/pgkeep/compose.yml"]))
        #expect(c.onFailure == ["/usr/bin/logger", "-t", "pgkeep", "backup failed"])
        #expect(c.logFile == "/var/log/pgkeep.log")
        #expect(c.maxAge == TimeInterval(93_600))
        #expect(c.database == "shop")
        #expect(try PGKeepConfig.parse("[backup]\ndatabases = \"all\"\n", path: "/x.toml").databases == .all)
    }

    @Test(arguments: [
        ("[backup]\ndir = \"/b\"\ncompres_level = 3\n", "/c.toml:3: backup.compres_level: unknown key"),
        ("[backup]\ndir = \"/b\"\n\n[retension]\nkeep_daily = 3\n", "/c.toml:4: retension: unknown key"),
        (
            "[connection]\nhost = \"h\"\npassword = \"hunter2\"\n",
            "/c.toml:3: connection.password: an inline password is not accepted"
        ),
        ("[backup]\ncompress_level = \"high\"\n", "/c.toml:2: backup.compress_level: must be an integer"),
        ("[backup]\ncompress_level = 12\n", "/c.toml:2: backup.compress_level: must be 0 to 9 (got 12)"),
        (
            "[backup]\ncompress = \"zstd:25\"\n",
            "/c.toml:2: backup.compress: is not a compression: compression \"zstd:25\": the zstd level must be 1 to 19"
        ),
        ("[backup]\ncompress = \"lz4\"\n", "/c.toml:2: backup.compress: is not a compression"),
        (
            "[backup]\ncompress = \"zstd\"\ncompress_level = 4\n",
            "/c.toml:3: backup.compress_level: cannot be used with compress"
        ),
        ("[backup]\nformat = \"tar\"\n", "/c.toml:2: backup.format: must be \"custom\", \"plain\" or \"directory\""),
        ("[backup]\ndatabases = []\n", "/c.toml:2: backup.databases: is an empty list"),
        (
            "[retention]\nkeep_daily = 0\nkeep_weekly = 0\nkeep_monthly = 0\n",
            "/c.toml:1: retention: every keep_* count is 0"
        ),
        ("[hooks]\non_success = \"curl https://hc/ping\"\n", "/c.toml:2: hooks.on_success: must be an argument array"),
        ("[status]\nmax_age = \"soon\"\n", "/c.toml:2: status.max_age: \"soon\" is not a duration"),
        ("[remote]\nremote_only = true\n", "/c.toml:2: remote.remote_only: needs target"),
        (
            "[encryption]\nrecipients = [\"bob\"]\n",
            "/c.toml:2: encryption.recipients: --encrypt-to bob: not an age recipient"
        ),
        ("[connection]\nport = 99999\n", "/c.toml:2: connection.port: must be a port number"),
        ("[backup\ndir = 1\n", "/c.toml:1:8: invalid TOML"),
    ])
    func badFilesNameTheKeyAndItsLine(text: String, expected: String) {
        do {
            _ = try PGKeepConfig.parse(text, path: "/c.toml")
            Issue.record("accepted: \(text)")
        } catch let e as PGKeepError {
            #expect(e.exitCode == ExitCodes.usage)
            #expect(e.message.hasPrefix(expected), "\(e.message)")
            #expect(!e.description.contains("hunter2"))
        } catch {
            Issue.record("\(error)")
        }
    }

    /// The example configs in Examples/ stay valid.
    @Test func theExamplesParse() throws {
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Examples")
        let files = try FileManager.default.contentsOfDirectory(atPath: examples.path).filter { $0.hasSuffix(".toml") }
        #expect(!files.isEmpty)
        for f in files {
            let c = try PGKeepConfig.load(path: examples.appendingPathComponent(f).path)
            #expect(c.directory != nil, "\(f)")
        }
    }

    /// The sidecar in Examples/docker-compose.yml is configured by its PGKEEP_* variables alone:
    /// each names a real key (a typo would be ignored by the daemon), and together, with compose's
    /// `${VAR:-default}` defaults, they make the config the daemon runs.
    @Test func theComposeExampleVariablesAreAConfig() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Examples/docker-compose.yml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var env: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.hasPrefix("PGKEEP_"), let colon = t.firstIndex(of: ":") else { continue }
            var value = t[t.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("${"), let dash = value.range(of: ":-"), value.hasSuffix("}") {
                value = String(value[dash.upperBound..<value.index(before: value.endIndex)])
            }
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            env[String(t[..<colon])] = value
        }
        let known = Set(ConfigKey.all.map(\.environmentName))
        #expect(env.count >= 8, "\(env)")
        for name in env.keys.sorted() { #expect(known.contains(name), "\(name) is not a config key's variable") }
        let config = try #require(try PGKeepConfig.load(path: nil, environment: env))
        #expect(config.directory == "/backups")
        #expect(config.scheduleCron != nil)
        #expect(config.maxAge == TimeInterval(26 * 3600))
        #expect(config.databases == .all)
    }

    @Test func passwordFromFileOrEnvironmentNeverInline() throws {
        let dir = NSTemporaryDirectory() + "pgkeep-cfg-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "s3cret\n".write(toFile: dir + "/pw", atomically: true, encoding: .utf8)
        let fromFile = try PGKeepConfig.parse(
            "[connection]\nhost = \"h\"\npassword_file = \"pw\"\n", path: dir + "/c.toml")
        #expect(
            try fromFile.connectionSpec(environment: [:])?.password == "s3cret",
            "the trailing newline is not part of it")
        let fromEnv = try PGKeepConfig.parse(
            "[connection]\nhost = \"h\"\npassword_env = \"DB_PW\"\n", path: dir + "/c.toml")
        #expect(try fromEnv.connectionSpec(environment: ["DB_PW": "x"])?.password == "x")
        #expect(throws: PGKeepError.self) { try fromEnv.connectionSpec(environment: [:]) }
        let inline = try PGKeepConfig.parse("[connection]\nuri = \"postgresql://u:pw@h/db\"\n", path: dir + "/c.toml")
        #expect(inline.warnings(environment: [:]).contains { $0.contains("inline") })
    }

    @Test func flagsOverEnvironmentOverFile() throws {
        let configured = ConnectionSpec(
            parameters: ["host": "filehost", "port": "5433", "user": "fileuser", "dbname": "filedb"], password: "filepw"
        )
        // The file alone.
        var spec = try ConnectionSpec.resolve(
            dbname: nil, host: nil, port: nil, username: nil, environment: [:], configured: configured)
        #expect(spec == configured)
        // PG* variables win over the file, field by field (libpq applies them).
        spec = try ConnectionSpec.resolve(
            dbname: nil, host: nil, port: nil, username: nil,
            environment: ["PGHOST": "envhost", "PGPASSWORD": "envpw"], configured: configured)
        #expect(spec.host == nil && spec.port == "5433" && spec.password == nil)
        // Flags win over both; the file beats DATABASE_URL.
        spec = try ConnectionSpec.resolve(
            dbname: "flagdb", host: "flaghost", port: nil, username: nil,
            environment: ["DATABASE_URL": "postgresql://x@urlhost/urldb"], configured: configured)
        #expect(spec.host == "flaghost" && spec.database == "flagdb" && spec.user == "fileuser")
    }

    @Test func durations() throws {
        #expect(try DurationText.parse("26h") == 93600)
        #expect(try DurationText.parse("1h30m") == 5400)
        #expect(try DurationText.parse("2d") == 172_800)
        #expect(try DurationText.parse("90") == 90)
        for bad in ["", "h", "26x", "-1h", "1h30"] {
            #expect(throws: PGKeepError.self, "\(bad)") { try DurationText.parse(bad) }
        }
        #expect(DurationText.format(5400) == "1h30m")
    }

    @Test func shellWordsSplitWithoutAShell() throws {
        #expect(
            try ShellWords.split("notify --to 'ops team' \"a \\\"b\\\"\" c\\ d", option: "--on-success")
                == ["notify", "--to", "ops team", "a \"b\"", "c d"])
        #expect(try ShellWords.split("echo $HOME; rm -rf /", option: "x") == ["echo", "$HOME;", "rm", "-rf", "/"])
        #expect(throws: PGKeepError.self) { try ShellWords.split("unbalanced 'quote", option: "x") }
    }

    @Test func hooksAreToldWhatHappenedButNoPassword() {
        var hooks = Hooks(onSuccess: ["/bin/true"])
        hooks.withheld.append("MY_DB_PASSWORD")
        let env = hooks.environment(
            for: .init(database: "shop", backupPath: nil, error: "pg_dump failed"),
            base: ["PGPASSWORD": "x", "DATABASE_URL": "postgresql://u:x@h/d", "MY_DB_PASSWORD": "x", "PATH": "/bin"])
        #expect(
            env == [
                "PATH": "/bin", "PGKEEP_STATUS": "failure", "PGKEEP_DATABASE": "shop", "PGKEEP_BACKUP_PATH": "",
                "PGKEEP_ERROR": "pg_dump failed",
            ])
    }
}

@Suite struct ScheduleTests {
    @Test func crontabLineRunsTheCronJobQuietly() throws {
        let s = try Schedule(
            cron: "0 2 * * *", binary: "/usr/local/bin/pgkeep", config: "/etc/pgkeep/my config.toml",
            logFile: "/var/log/pgkeep-%d.log")
        #expect(
            s.crontabLine
                == "0 2 * * * /usr/local/bin/pgkeep run --config '/etc/pgkeep/my config.toml' --quiet --log-file "
                + "/var/log/pgkeep-\\%d.log"
        )
    }

    @Test(arguments: [
        ("0 2 * * *", "*-*-* 02:00:00"),
        ("30 1 * * 1-5", "Mon..Fri *-*-* 01:30:00"),
        ("*/15 * * * *", "*-*-* *:00/15:00"),
        ("0 3 1 * *", "*-*-1 03:00:00"),
        ("@weekly", "Sun *-*-* 00:00:00"),
        ("0 4 * * 0,6", "Sun,Sat *-*-* 04:00:00"),
    ])
    func cronBecomesOnCalendar(cron: String, calendar: String) throws {
        #expect(try Schedule(cron: cron, binary: "/b", config: nil, logFile: nil).onCalendar() == calendar)
    }

    @Test func badExpressionsAreRefused() {
        for bad in ["0 2 * *", "61 2 * * *", "0 24 * * *", "x 2 * * *", "0 2 1 * 1"] {
            #expect(throws: PGKeepError.self, "\(bad)") {
                try Schedule(cron: bad, binary: "/b", config: nil, logFile: nil).onCalendar()
            }
        }
    }
}
