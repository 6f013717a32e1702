import Foundation

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
    /// More directories to look for client tools in when `pg_bin` is not set (searched first).
    public var pgBinSearch: [String]?

    // [backup]
    public var directory: String?
    public var format: BackupFormat?
    /// `compress = "zstd:3"`, or `compress_level = N` (gzip N; 0: none).
    public var compression: CompressionChoice?
    public var jobs: Int?
    public var threads: Int?
    /// The databases to back up: names, or every database with `databases = "all"`.
    public var databases: DatabaseSelection?
    public var rowCounts: Bool?
    /// The shrink guard: a backup below this share of the normal median size is an anomaly.
    public var minSizeRatio: Double?
    /// The shrink guard: a table that lost more than this share of its rows is an anomaly.
    public var maxRowLoss: Double?
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

    // [monitor]
    /// URLs by target kind (healthchecks, uptime_kuma, webhook, ntfy, slack, discord, teams).
    public var monitorURLs: [String: String] = [:]
    /// States per target kind (`healthchecks_states`, ...).
    public var monitorStates: [String: [String]] = [:]
    /// `Name: value` headers for the webhook (`Name: @/path` reads the value from a file).
    public var webhookHeaders: [String]?
    public var monitorTimeout: TimeInterval?
    /// Telegram: the file holding the bot's token, the chat, and the Bot API's base URL.
    public var telegramTokenFile: String?
    public var telegramChatID: String?
    public var telegramAPI: String?
    /// Email: the recipients, the sender, the subject's prefix and the sendmail program's words.
    public var email: [String]?
    public var emailFrom: String?
    public var emailSubjectPrefix: String?
    public var emailSendmail: [String]?
    // [metrics]
    public var metricsTextfile: String?

    // [status]
    public var maxAge: TimeInterval?
    /// `[status] rto` and `drill_max_age` (see `RestoreForecast`).
    public var rto: TimeInterval?
    public var drillMaxAge: TimeInterval?

    // [schedule] (`pgkeep daemon`)
    public var scheduleCron: CronExpression?
    /// An IANA zone name (default UTC).
    public var scheduleTimeZone: String?
    /// The fleet's servers (`[[server]]`); empty: the one server of `[connection]`.
    public var servers: [ServerEntry] = []
    /// `[backup] fingerprint`: every backup records its fingerprint.
    public var fingerprint: Bool?
    /// The server this config was narrowed to (`forServer`), nil for the whole file.
    public var serverName: String?
    /// Databases left out of `"all"` (a server's `exclude`).
    public var exclude: [String] = []
    /// A database with a backup newer than this is not backed up again by `run` (a shard's rerun).
    public var minInterval: TimeInterval?
    /// `[daemon] listen`: where the daemon serves /healthz, /metrics and the status page.
    public var daemonListen: String?
    /// `[daemon] auth_file`: `user:password` lines for the status page's basic authentication.
    public var daemonAuthFile: String?
    /// `[backup] parallel` and `per_server`: databases at once, and at most so many per server.
    public var parallel: Int?
    public var perServer: Int?

    // Bounds ([backup] and [connection]; see `SessionBounds`, `Watchdog`). A bound of 0 is "none".
    public var lockWaitTimeout: TimeInterval?
    public var maxDuration: TimeInterval?
    public var stallTimeout: TimeInterval?
    public var connectTimeout: Int?
    public var keepalivesIdle: Int?
    public var keepalivesInterval: Int?
    public var keepalivesCount: Int?
    /// Milliseconds.
    public var tcpUserTimeout: Int?
    /// false: no server-side startup options (a pooler such as PgBouncer refuses them).
    public var serverOptions: Bool?

    // [remote]
    /// `REMOTE:bucket/prefix` (an rclone remote) every backup is copied to.
    public var remote: String?
    public var remoteOnly: Bool?
    /// Every destination: the `[[remote]]` elements, or the single `[remote]`.
    public var destinations: [RemoteDestination] = []

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

    /// Reads and checks `path`. A TOML syntax error, an unknown key or a bad value is a usage
    /// error that names the file, the key and its line.
    public static func load(path: String, overrides: [String: String] = [:]) throws -> PGKeepConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason =
                FileManager.default.fileExists(atPath: path) ? "it cannot be read (permissions?)" : "no such file"
            throw PGKeepError(
                .usage, "cannot read the config file \(path): \(reason)",
                hint: "pass an existing file with --config, or unset PGKEEP_CONFIG")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PGKeepError(.usage, "the config file \(path) is not UTF-8 text")
        }
        return try parse(text, path: path, overrides: overrides)
    }

    /// Parses TOML text (`path` is used in messages and to resolve relative paths), with
    /// `overrides` (`PGKEEP_<TABLE>_<KEY>` variables, see `ConfigEnvironment`) over the file's keys.
    public static func parse(_ text: String, path: String, overrides: [String: String] = [:]) throws -> PGKeepConfig {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let root: TOMLTable
        do {
            root = try TOMLTable(parsing: text)
        } catch let error as TOMLError {
            throw PGKeepError(.usage, "\(path):\(error.line):\(error.column): invalid TOML: \(error.message)")
        }
        var reader = ConfigReader(
            root: try ConfigEnvironment.overlay(overrides, on: root), locator: KeyLocator(text: text), path: path,
            base: FileSystem.parent(of: absolute))
        reader.fromEnvironment = Set(overrides.keys)
        return try reader.read(into: PGKeepConfig(path: absolute))
    }
}
