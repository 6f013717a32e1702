import Foundation

/// One key of the config file: its table and name, the type of its value, and where the value
/// goes in `PGKeepConfig`. The table of them, `ConfigKey.all`, is the only list of keys: the
/// unknown-key check and the reading both walk it.
struct ConfigKey: Sendable {
    let table: String
    let name: String
    /// The value's type, as messages and `config check` name it.
    let type: String
    /// Reads the value (if the file has it) and stores it.
    let apply: @Sendable (ConfigReader, inout PGKeepConfig) throws -> Void

    var qualified: String { table + "." + name }

    /// A key whose value (read as `kind`) goes to `store`.
    static func key<T>(
        _ table: String, _ name: String, _ kind: ConfigType<T>,
        _ store: @escaping @Sendable (inout PGKeepConfig, T) -> Void
    ) -> ConfigKey {
        ConfigKey(table: table, name: name, type: kind.name) { reader, config in
            if let value = try kind.read(reader, "\(table).\(name)") { store(&config, value) }
        }
    }

    /// A key whose value (read as `kind`) goes to the property `path`.
    static func key<T>(
        _ table: String, _ name: String, _ kind: ConfigType<T>, _ path: WritableKeyPath<PGKeepConfig, T?> & Sendable
    ) -> ConfigKey {
        key(table, name, kind) { config, value in config[keyPath: path] = value }
    }

    /// Every key, in the order they are read (and their errors reported).
    static let all: [ConfigKey] = [
        key("connection", "uri", .uri, \.uri),
        key("connection", "host", .string, \.host),
        key("connection", "port", .port, \.port),
        key("connection", "user", .string, \.user),
        key("connection", "dbname", .string, \.dbname),
        key("connection", "password_file", .path, \.passwordFile),
        key("connection", "password_env", .string, \.passwordEnv),
        key("connection", "pg_bin", .path, \.pgBin),
        key("connection", "pg_bin_search", .paths, \.pgBinSearch),
        key("connection", "connect_timeout", .integer(1...3600), \.connectTimeout),
        key("connection", "keepalives_idle", .integer(1...86400), \.keepalivesIdle),
        key("connection", "keepalives_interval", .integer(1...3600), \.keepalivesInterval),
        key("connection", "keepalives_count", .integer(1...100), \.keepalivesCount),
        key("connection", "tcp_user_timeout", .integer(1...86_400_000), \.tcpUserTimeout),
        key("connection", "server_options", .boolean, \.serverOptions),
        key("backup", "dir", .path, \.directory),
        key("backup", "format", .format, \.format),
        key("backup", "compress", .compression, \.compression),
        key("backup", "compress_level", .integer(0...9)) { config, level in
            config.compression = CompressionChoice(codec: level == 0 ? nil : .gzip, level: level)
        },
        key("backup", "jobs", .integer(1...128), \.jobs),
        key("backup", "threads", .integer(1...1024), \.threads),
        key("backup", "databases", .databases, \.databases),
        key("backup", "row_counts", .boolean, \.rowCounts),
        key("backup", "fingerprint", .boolean, \.fingerprint),
        key("backup", "label", .string, \.label),
        key("backup", "min_size_ratio", .fraction, \.minSizeRatio),
        key("backup", "max_row_loss", .fraction, \.maxRowLoss),
        key("backup", "lock_wait_timeout", .bound, \.lockWaitTimeout),
        key("backup", "max_duration", .bound, \.maxDuration),
        key("backup", "stall_timeout", .bound, \.stallTimeout),
        key("backup", "parallel", .integer(1...64), \.parallel),
        key("backup", "per_server", .integer(1...64), \.perServer),
        key("retention", "keep_last", .count) { $0.retentionPolicy.last = $1 },
        key("retention", "keep_hourly", .count) { $0.retentionPolicy.hourly = $1 },
        key("retention", "keep_daily", .count) { $0.retentionPolicy.daily = $1 },
        key("retention", "keep_weekly", .count) { $0.retentionPolicy.weekly = $1 },
        key("retention", "keep_monthly", .count) { $0.retentionPolicy.monthly = $1 },
        key("retention", "keep_yearly", .count) { $0.retentionPolicy.yearly = $1 },
        key("docker_compose", "service", .string) { $0.compose.service = $1 },
        key("docker_compose", "files", .paths) { $0.compose.composeFiles = $1 },
        key("docker_compose", "project_directory", .path) { $0.compose.projectDirectory = $1 },
        key("docker_compose", "command", .composeCommand) { $0.compose.composeCommand = $1 },
        key("hooks", "on_success", .command, \.onSuccess),
        key("hooks", "on_failure", .command, \.onFailure),
        key("log", "file", .path, \.logFile),
        key("log", "quiet", .boolean, \.quiet),
        key("encryption", "recipients", .recipients, \.recipients),
        key("encryption", "identity_file", .path, \.identityFile),
        key("encryption", "passphrase_file", .path, \.passphraseFile),
        key("remote", "target", .string, \.remote),
        key("remote", "remote_only", .boolean, \.remoteOnly),
        key("monitor", "healthchecks", .string) { $0.monitorURLs["healthchecks"] = $1 },
        key("monitor", "healthchecks_states", .strings) { $0.monitorStates["healthchecks"] = $1 },
        key("monitor", "uptime_kuma", .string) { $0.monitorURLs["uptime_kuma"] = $1 },
        key("monitor", "uptime_kuma_states", .strings) { $0.monitorStates["uptime_kuma"] = $1 },
        key("monitor", "webhook", .string) { $0.monitorURLs["webhook"] = $1 },
        key("monitor", "webhook_states", .strings) { $0.monitorStates["webhook"] = $1 },
        key("monitor", "webhook_headers", .strings, \.webhookHeaders),
        key("monitor", "ntfy", .string) { $0.monitorURLs["ntfy"] = $1 },
        key("monitor", "ntfy_states", .strings) { $0.monitorStates["ntfy"] = $1 },
        key("monitor", "slack", .string) { $0.monitorURLs["slack"] = $1 },
        key("monitor", "slack_states", .strings) { $0.monitorStates["slack"] = $1 },
        key("monitor", "discord", .string) { $0.monitorURLs["discord"] = $1 },
        key("monitor", "discord_states", .strings) { $0.monitorStates["discord"] = $1 },
        key("monitor", "teams", .string) { $0.monitorURLs["teams"] = $1 },
        key("monitor", "teams_states", .strings) { $0.monitorStates["teams"] = $1 },
        key("monitor", "telegram_token_file", .path, \.telegramTokenFile),
        key("monitor", "telegram_chat_id", .chatID, \.telegramChatID),
        key("monitor", "telegram_api", .string, \.telegramAPI),
        key("monitor", "telegram_states", .strings) { $0.monitorStates["telegram"] = $1 },
        key("monitor", "email", .strings, \.email),
        key("monitor", "email_from", .string, \.emailFrom),
        key("monitor", "email_subject_prefix", .string, \.emailSubjectPrefix),
        key("monitor", "email_sendmail", .shellWords, \.emailSendmail),
        key("monitor", "email_states", .strings) { $0.monitorStates["email"] = $1 },
        key("monitor", "timeout", .duration, \.monitorTimeout),
        key("metrics", "textfile", .path, \.metricsTextfile),
        key("status", "max_age", .duration, \.maxAge),
        key("status", "rto", .duration, \.rto),
        key("status", "drill_max_age", .duration, \.drillMaxAge),
        key("schedule", "cron", .cron, \.scheduleCron),
        key("schedule", "timezone", .timeZone, \.scheduleTimeZone),
        key("schedule", "min_interval", .duration, \.minInterval),
        key("daemon", "listen", .listen, \.daemonListen),
        key("daemon", "auth_file", .path, \.daemonAuthFile),
    ]

    /// The tables, in the order of `all`.
    static let tables: [String] = all.reduce(into: []) { if !$0.contains($1.table) { $0.append($1.table) } }
}

extension PGKeepConfig {
    /// `[retention]` as read so far: the defaults until a key changes them.
    fileprivate var retentionPolicy: RetentionPolicy {
        get { retention ?? RetentionPolicy() }
        set { retention = newValue }
    }

    /// `[docker_compose]` as read so far (its service is checked once the table is read).
    fileprivate var compose: DockerComposeOptions {
        get { dockerCompose ?? DockerComposeOptions(service: "") }
        set { dockerCompose = newValue }
    }
}

/// How a value of one type is read and checked.
struct ConfigType<T>: Sendable {
    let name: String
    let read: @Sendable (ConfigReader, String) throws -> T?
}

extension ConfigType where T == String {
    static var string: Self { Self(name: "string") { try $0.string($1) } }
    /// A path; relative to the config file's folder.
    static var path: Self { Self(name: "path") { r, key in try r.string(key).map(r.resolve) } }
    static var port: Self { Self(name: "port") { try $0.port($1) } }
    /// A URI or conninfo string, parsed to check it.
    static var uri: Self {
        Self(name: "URI") { r, key in
            guard let uri = try r.string(key) else { return nil }
            _ = try r.wrap(key) { try ConnectionSpec.parse(uri, source: key) }
            return uri
        }
    }
    static var composeCommand: Self {
        Self(name: "command") { r, key in
            guard let command = try r.string(key) else { return nil }
            guard ["docker compose", "docker-compose"].contains(command) || command.hasPrefix("/") else {
                throw r.fail(
                    key, "must be \"docker compose\", \"docker-compose\" or an absolute path (got \"\(command)\")")
            }
            return command
        }
    }
}

extension ConfigType where T == CronExpression {
    static var cron: Self {
        Self(name: "cron expression") { r, key in
            guard let text = try r.string(key) else { return nil }
            return try r.wrap(key) { try CronExpression(text, source: "[schedule] cron") }
        }
    }
}

extension ConfigType where T == String {
    /// An IANA time zone name (`Europe/Berlin`, `UTC`).
    static var timeZone: Self {
        Self(name: "time zone") { r, key in
            guard let name = try r.string(key) else { return nil }
            guard TimeZone(identifier: name) != nil else {
                throw r.fail(key, "\"\(name)\" is not a time zone; write e.g. \"UTC\" or \"Europe/Berlin\"")
            }
            return name
        }
    }
}

extension ConfigType where T == Int {
    static func integer(_ range: ClosedRange<Int>) -> Self {
        Self(name: "integer \(range.lowerBound) to \(range.upperBound)") { try $0.int($1, in: range) }
    }
    /// A retention count: -1 (or "unlimited") up.
    static var count: Self { Self(name: "count") { try $0.count($1) } }
}

extension ConfigType where T == Double {
    static var fraction: Self { Self(name: "number from 0 to 1") { try $0.fraction($1) } }
}

extension ConfigType where T == Bool {
    static var boolean: Self { Self(name: "boolean") { try $0.bool($1) } }
}

extension ConfigType where T == TimeInterval {
    static var duration: Self {
        Self(name: "duration") { r, key in
            guard let text = try r.string(key) else { return nil }
            return try r.wrap(key) { try DurationText.parse(text) }
        }
    }
}

extension ConfigType where T == TimeInterval {
    /// A duration, or "none" (stored as 0) for no bound.
    static var bound: Self {
        Self(name: "duration or \"none\"") { r, key in
            guard let text = try r.string(key) else { return nil }
            return try r.wrap(key) { try BoundsFlags.parse(text) ?? 0 }
        }
    }
}

extension ConfigType where T == [String] {
    static var strings: Self { Self(name: "list of strings") { try $0.stringArray($1) } }
    static var paths: Self { Self(name: "list of paths") { r, key in try r.stringArray(key)?.map(r.resolve) } }
    static var command: Self { Self(name: "argument array") { try $0.command($1) } }
    static var recipients: Self {
        Self(name: "list of age recipients") { r, key in
            guard let list = try r.stringArray(key) else { return nil }
            for recipient in list { _ = try r.wrap(key) { try AgeTool.checkRecipient(recipient) } }
            return list
        }
    }
}

extension ConfigType where T == BackupFormat {
    static var format: Self {
        Self(name: "format") { r, key in
            guard let f = try r.string(key) else { return nil }
            guard let format = BackupFormat(rawValue: f), [.custom, .plain, .directory].contains(format) else {
                throw r.fail(key, "must be \"custom\", \"plain\" or \"directory\" (got \"\(f)\")")
            }
            return format
        }
    }
}

extension ConfigType where T == CompressionChoice {
    static var compression: Self {
        Self(name: "\"gzip[:LEVEL]\", \"zstd[:LEVEL]\" or \"none\"") { r, key in
            guard let text = try r.string(key) else { return nil }
            do {
                return try CompressionChoice.parse(text)
            } catch let error as PGKeepError {
                throw r.fail(key, "is not a compression: \(error.message)")
            }
        }
    }
}

extension ConfigType where T == PGKeepConfig.DatabaseSelection {
    static var databases: Self {
        Self(name: "\"all\" or a list of names") { r, key in
            guard let value = r.value(key) else { return nil }
            if let s = value.string {
                guard s == "all" else { throw r.fail(key, "must be \"all\" or a list of names (got \"\(s)\")") }
                return .all
            }
            guard let list = try r.stringArray(key) else { return nil }
            guard !list.isEmpty else { throw r.fail(key, "is an empty list; name the databases or write \"all\"") }
            return .list(list)
        }
    }
}
