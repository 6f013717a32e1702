import Foundation
import TOMLKit

/// The settings a `--config` file (TOML) gives. Every field is optional: a missing one falls back
/// to the environment and the defaults. Flags override the environment, which overrides the file.
///
/// The password is never required inline: `password_file` names a file holding it, `password_env`
/// names an environment variable. A `password` key is refused.
public struct PGKeepConfig: Sendable, Equatable {
    /// Where the file was read from (absolute).
    public var path: String

    // [connection]
    /// A postgresql:// URI or conninfo string (its password, if any, is masked wherever shown).
    public var uri: String?
    public var host: String?
    public var port: String?
    public var user: String?
    public var dbname: String?
    public var passwordFile: String?
    public var passwordEnv: String?
    public var pgBin: String?

    // [backup]
    public var directory: String?
    public var format: BackupFormat?
    public var compressLevel: Int?
    public var jobs: Int?
    public var threads: Int?
    /// The databases to back up: names, or every database with `databases = "all"`.
    public var databases: DatabaseSelection?
    public var rowCounts: Bool?
    public var label: String?

    // [retention]
    public var retention: RetentionPolicy?

    // [docker_compose]
    public var dockerCompose: DockerComposeOptions?

    // [hooks]
    public var onSuccess: [String]?
    public var onFailure: [String]?

    // [log]
    public var logFile: String?
    public var quiet: Bool?

    // [status]
    public var maxAge: TimeInterval?

    // [remote]
    /// `REMOTE:bucket/prefix` (an rclone remote) every backup is copied to.
    public var remote: String?
    public var remoteOnly: Bool?

    // [encryption]
    /// age recipients every backup is encrypted to.
    public var recipients: [String]?
    /// The age key file that restore, verify and the drill decrypt with.
    public var identityFile: String?
    /// A file holding the passphrase to encrypt (and decrypt) with, instead of recipients.
    public var passphraseFile: String?

    public init(path: String) {
        self.path = path
    }

    /// Which databases a run backs up.
    public enum DatabaseSelection: Sendable, Equatable {
        /// Every database that accepts connections, and the globals (like `backup --all`).
        case all
        case list([String])
    }

    /// The keys each table accepts, for the unknown-key check and for `config check`.
    public static let schema: [(table: String, keys: [String])] = [
        ("connection", ["uri", "host", "port", "user", "dbname", "password_file", "password_env", "pg_bin"]),
        ("backup", ["dir", "format", "compress_level", "jobs", "threads", "databases", "row_counts", "label"]),
        ("retention", ["keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly"]),
        ("docker_compose", ["service", "files", "project_directory", "command"]),
        ("hooks", ["on_success", "on_failure"]),
        ("log", ["file", "quiet"]),
        ("status", ["max_age"]),
        ("encryption", ["recipients", "identity_file", "passphrase_file"]),
        ("remote", ["target", "remote_only"]),
    ]

    /// Reads and checks `path`. A TOML syntax error, an unknown key or a bad value is a usage
    /// error that names the file, the key and its line.
    public static func load(path: String) throws -> PGKeepConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "it cannot be read (permissions?)" : "no such file"
            throw PGKeepError(.usage, "cannot read the config file \(path): \(reason)",
                              hint: "pass an existing file with --config, or unset PGKEEP_CONFIG")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PGKeepError(.usage, "the config file \(path) is not UTF-8 text")
        }
        return try parse(text, path: path)
    }

    /// Parses TOML text (`path` is used in messages and to resolve relative paths).
    public static func parse(_ text: String, path: String) throws -> PGKeepConfig {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw PGKeepError(.usage, "\(path):\(error.source.begin.line):\(error.source.begin.column): invalid TOML: \(error.description)")
        }
        let reader = ConfigReader(root: root, locator: KeyLocator(text: text), path: path,
                                  base: (absolute as NSString).deletingLastPathComponent)
        return try reader.read(into: PGKeepConfig(path: absolute))
    }
}

/// Walks the parsed table, checking keys and types, and fills a `PGKeepConfig`.
private struct ConfigReader {
    let root: TOMLTable
    let locator: KeyLocator
    let path: String
    /// The config file's folder: relative paths in the file are relative to it, not to the
    /// working directory (cron starts in $HOME, systemd in /).
    let base: String

    func fail(_ key: String, _ message: String, hint: String? = nil) -> PGKeepError {
        let line = locator.line(of: key).map { ":\($0)" } ?? ""
        return PGKeepError(.usage, "\(path)\(line): \(key): \(message)", hint: hint)
    }

    func read(into config: PGKeepConfig) throws -> PGKeepConfig {
        var c = config
        let tables = Dictionary(uniqueKeysWithValues: PGKeepConfig.schema.map { ($0.table, $0.keys) })
        for name in root.keys.sorted(by: { (locator.line(of: $0) ?? 0, $0) < (locator.line(of: $1) ?? 0, $1) }) {
            guard let keys = tables[name] else {
                throw fail(name, "unknown key", hint: "the tables are " + PGKeepConfig.schema.map { "[\($0.table)]" }.joined(separator: ", "))
            }
            guard let table = root[name]?.table else { throw fail(name, "must be a table ([\(name)])") }
            for key in table.keys.sorted(by: { (locator.line(of: "\(name).\($0)") ?? 0, $0) < (locator.line(of: "\(name).\($1)") ?? 0, $1) })
            where !keys.contains(key) {
                if name == "connection" && key == "password" {
                    throw fail("connection.password", "an inline password is not accepted",
                               hint: "put it in a file (password_file = \"/etc/pgkeep/password\", mode 0600) or an environment variable (password_env = \"PGKEEP_PASSWORD\")")
                }
                throw fail("\(name).\(key)", "unknown key", hint: "[\(name)] accepts " + keys.joined(separator: ", "))
            }
        }

        c.uri = try string("connection.uri")
        c.host = try string("connection.host")
        c.port = try portValue("connection.port")
        c.user = try string("connection.user")
        c.dbname = try string("connection.dbname")
        c.passwordFile = try string("connection.password_file").map(resolve)
        c.passwordEnv = try string("connection.password_env")
        c.pgBin = try string("connection.pg_bin").map(resolve)
        if let uri = c.uri { _ = try wrap("connection.uri") { try ConnectionSpec.parse(uri, source: "connection.uri") } }

        c.directory = try string("backup.dir").map(resolve)
        if let f = try string("backup.format") {
            guard let format = BackupFormat(rawValue: f), [.custom, .plain, .directory].contains(format) else {
                throw fail("backup.format", "must be \"custom\", \"plain\" or \"directory\" (got \"\(f)\")")
            }
            c.format = format
        }
        c.compressLevel = try int("backup.compress_level", in: 0...9)
        c.jobs = try int("backup.jobs", in: 1...128)
        c.threads = try int("backup.threads", in: 1...1024)
        c.rowCounts = try bool("backup.row_counts")
        c.label = try string("backup.label")
        if let value = root["backup"]?.table?["databases"] {
            if let s = value.string {
                guard s == "all" else { throw fail("backup.databases", "must be \"all\" or a list of names (got \"\(s)\")") }
                c.databases = .all
            } else if let list = try stringArray("backup.databases") {
                guard !list.isEmpty else { throw fail("backup.databases", "is an empty list; name the databases or write \"all\"") }
                c.databases = .list(list)
            }
        }

        if root["retention"] != nil {
            var policy = RetentionPolicy()
            policy.last = try int("retention.keep_last", in: -1...1_000_000) ?? policy.last
            policy.hourly = try int("retention.keep_hourly", in: -1...1_000_000) ?? policy.hourly
            policy.daily = try int("retention.keep_daily", in: -1...1_000_000) ?? policy.daily
            policy.weekly = try int("retention.keep_weekly", in: -1...1_000_000) ?? policy.weekly
            policy.monthly = try int("retention.keep_monthly", in: -1...1_000_000) ?? policy.monthly
            policy.yearly = try int("retention.keep_yearly", in: -1...1_000_000) ?? policy.yearly
            if policy.rules.allSatisfy({ $0.count == 0 }) {
                throw fail("retention", "every keep_* count is 0, which would delete all but the newest backup")
            }
            c.retention = policy
        }

        if root["docker_compose"] != nil {
            guard let service = try string("docker_compose.service") else {
                throw fail("docker_compose", "needs service = \"NAME\" (the compose service that runs PostgreSQL)")
            }
            var d = DockerComposeOptions(service: service)
            d.composeFiles = (try stringArray("docker_compose.files") ?? []).map(resolve)
            d.projectDirectory = try string("docker_compose.project_directory").map(resolve)
            if let command = try string("docker_compose.command") {
                guard ["docker compose", "docker-compose"].contains(command) || command.hasPrefix("/") else {
                    throw fail("docker_compose.command", "must be \"docker compose\", \"docker-compose\" or an absolute path (got \"\(command)\")")
                }
                d.composeCommand = command
            }
            c.dockerCompose = d
        }

        c.onSuccess = try command("hooks.on_success")
        c.onFailure = try command("hooks.on_failure")
        c.logFile = try string("log.file").map(resolve)
        c.quiet = try bool("log.quiet")
        if let list = try stringArray("encryption.recipients") {
            for r in list { _ = try wrap("encryption.recipients") { try AgeTool.checkRecipient(r) } }
            c.recipients = list
        }
        c.identityFile = try string("encryption.identity_file").map(resolve)
        c.passphraseFile = try string("encryption.passphrase_file").map(resolve)
        if c.passphraseFile != nil && c.recipients != nil {
            throw fail("encryption.passphrase_file", "cannot be used with recipients: age encrypts to recipients or to a passphrase")
        }
        c.remote = try string("remote.target")
        c.remoteOnly = try bool("remote.remote_only")
        if c.remoteOnly == true && c.remote == nil { throw fail("remote.remote_only", "needs target = \"REMOTE:bucket/prefix\"") }
        if let text = try string("status.max_age") {
            c.maxAge = try wrap("status.max_age") { try DurationText.parse(text) }
        }
        return c
    }

    /// Relative paths are taken from the config file's folder.
    func resolve(_ p: String) -> String {
        p.hasPrefix("/") ? p : (base as NSString).appendingPathComponent(p)
    }

    func wrap<T>(_ key: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as PGKeepError { throw fail(key, e.message, hint: e.hint) }
    }

    func value(_ key: String) -> TOMLValueConvertible? {
        let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
        return root[parts[0]]?.table?[parts[1]]
    }

    func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v.string else { throw fail(key, "must be a string (got \(v.type))") }
        guard !s.isEmpty else { throw fail(key, "is empty") }
        return s
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let v = value(key) else { return nil }
        guard let n = v.int else { throw fail(key, "must be an integer (got \(v.type))") }
        guard range.contains(n) else { throw fail(key, "must be \(range.lowerBound) to \(range.upperBound) (got \(n))") }
        return n
    }

    func portValue(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        if let n = v.int, (1...65535).contains(n) { return String(n) }
        if let s = v.string, let n = Int(s), (1...65535).contains(n) { return s }
        throw fail(key, "must be a port number 1 to 65535")
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v.bool else { throw fail(key, "must be true or false (got \(v.type))") }
        return b
    }

    func stringArray(_ key: String) throws -> [String]? {
        guard let v = value(key) else { return nil }
        guard let array = v.array else { throw fail(key, "must be a list of strings (got \(v.type))") }
        return try array.map { element in
            guard let s = element.string, !s.isEmpty else { throw fail(key, "must be a list of non-empty strings") }
            return s
        }
    }

    /// A hook: an argument array (`["/usr/local/bin/notify", "--to", "ops"]`), never a shell string.
    func command(_ key: String) throws -> [String]? {
        guard let v = value(key) else { return nil }
        guard v.array != nil else {
            throw fail(key, "must be an argument array, e.g. [\"/usr/local/bin/notify\", \"--channel\", \"ops\"]",
                       hint: "hooks run without a shell; for a shell pipeline write [\"/bin/sh\", \"-c\", \"...\"]")
        }
        let words = try stringArray(key) ?? []
        guard !words.isEmpty else { throw fail(key, "is an empty list") }
        return words
    }
}

/// Finds the line of `table.key` in TOML text, for error messages only (TOMLKit does not expose
/// node positions). It follows `[table]` headers and `key =` lines; a key it cannot place gets no line.
struct KeyLocator {
    private var lines: [String: Int] = [:]

    init(text: String) {
        var table = ""
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") && !line.hasPrefix("[[") {
                if let close = line.firstIndex(of: "]") {
                    table = Self.unquote(String(line[line.index(after: line.startIndex)..<close]))
                    if lines[table] == nil { lines[table] = index + 1 }
                }
                continue
            }
            guard !line.hasPrefix("#"), let eq = line.firstIndex(of: "=") else { continue }
            let key = Self.unquote(String(line[..<eq]))
            guard !key.isEmpty, !key.contains(" ") || key.contains(".") else { continue }
            let full = table.isEmpty ? key : table + "." + key
            if lines[full] == nil { lines[full] = index + 1 }
        }
    }

    static func unquote(_ s: String) -> String {
        s.split(separator: ".").map { part in
            part.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
        }.joined(separator: ".")
    }

    func line(of key: String) -> Int? { lines[key] }
}

/// Durations as written for --max-age and `max_age`: `26h`, `90m`, `2d`, `1h30m`, `3600s` or a
/// plain number of seconds.
public enum DurationText {
    public static func parse(_ text: String) throws -> TimeInterval {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let seconds = Double(t), seconds > 0 { return seconds }
        var total: Double = 0
        var number = ""
        var sawUnit = false
        for ch in t {
            if ch.isNumber || ch == "." {
                number.append(ch)
            } else {
                let unit: Double
                switch ch {
                case "s": unit = 1
                case "m": unit = 60
                case "h": unit = 3600
                case "d": unit = 86400
                case "w": unit = 7 * 86400
                default: throw bad(text)
                }
                guard let n = Double(number) else { throw bad(text) }
                total += n * unit
                number = ""
                sawUnit = true
            }
        }
        guard sawUnit, number.isEmpty, total > 0 else { throw bad(text) }
        return total
    }

    static func bad(_ text: String) -> PGKeepError {
        PGKeepError(.usage, "\"\(text)\" is not a duration; write e.g. 26h, 90m, 2d or 1h30m")
    }

    /// `93600` → `1d2h`, `5400` → `1h30m`, for messages.
    public static func format(_ seconds: TimeInterval) -> String {
        var s = Int(seconds.rounded())
        var parts: [String] = []
        for (unit, name) in [(86400, "d"), (3600, "h"), (60, "m"), (1, "s")] where s >= unit {
            parts.append("\(s / unit)\(name)")
            s %= unit
        }
        return parts.isEmpty ? "0s" : parts.joined()
    }
}
