import Foundation

/// The one place where every setting is resolved: a flag, else the environment, else the config
/// file, else the default. Subcommands hand it what the user typed (nil: not given) and get
/// values back; nothing here knows the command-line parser, so tests reach every rule.
public struct Settings: Sendable {
    public let environment: [String: String]
    public let config: PGKeepConfig?

    public init(environment: [String: String], config: PGKeepConfig?) {
        self.environment = environment
        self.config = config
    }

    /// Reads the file named by `--config` (else PGKEEP_CONFIG); without either, no file.
    public static func load(configFlag: String?, environment: [String: String]) throws -> Settings {
        let file = configFlag ?? nonEmpty(environment["PGKEEP_CONFIG"])
        return Settings(environment: environment, config: try PGKeepConfig.load(path: file, environment: environment))
    }

    static func nonEmpty(_ value: String?) -> String? { value.flatMap { $0.isEmpty ? nil : $0 } }

    /// `--dir`, else PGKEEP_DIR, else the config's `[backup] dir`; a usage error when none gives one.
    public func directory(flag: String?) throws -> String {
        if flag == nil, let servers = config?.servers, !servers.isEmpty {
            throw PGKeepError(
                .usage, "the config file has [[server]] tables, each with its own directory: give --server NAME",
                hint: "the servers are " + servers.map(\.name).joined(separator: ", "))
        }
        guard let dir = flag ?? Self.nonEmpty(environment["PGKEEP_DIR"]) ?? config?.directory else {
            throw PGKeepError(
                .usage,
                "no backup directory: give --dir, set PGKEEP_DIR, or set dir in the config file's [backup]")
        }
        return dir
    }

    /// `--pg-bin`, else PGKEEP_PG_BIN, else the config's `pg_bin` (nil: the newest client found).
    public func pgBin(flag: String?) -> String? {
        flag ?? Self.nonEmpty(environment["PGKEEP_PG_BIN"]) ?? config?.pgBin
    }

    /// The PostgreSQL client tools on this machine.
    public func tools(pgBinFlag: String?) -> PostgresTools {
        PostgresTools(
            pgBin: pgBin(flag: pgBinFlag), environment: environment, searchList: config?.pgBinSearch ?? [])
    }

    /// `--quiet` or the config's `[log] quiet`.
    public func quiet(flag: Bool) -> Bool { flag || (config?.quiet ?? false) }

    /// `--log-file`, else the config's `[log] file`.
    public func logFile(flag: String?) -> String? { flag ?? config?.logFile }

    /// The connection from the flags, the environment and the config file, in that order; every
    /// password it finds is registered for redaction.
    public func connection(_ flags: ConnectionFlags) throws -> ConnectionSpec {
        let configured = try config?.connectionSpec(environment: environment)
        Redaction.shared.register(configured?.password)
        let spec = try ConnectionSpec.resolve(
            dbname: flags.dbname, host: flags.host, port: flags.port, username: flags.username,
            environment: environment, configured: configured)
        Redaction.shared.register(spec.password)
        Redaction.shared.register(environment["PGPASSWORD"])
        return spec
    }

    /// A second server named by a URI flag (`--drill-dbname`), its password registered for redaction.
    public func server(uri: String, flag: String) throws -> ConnectionSpec {
        let spec = try ConnectionSpec.parse(uri, source: flag)
        Redaction.shared.register(spec.password)
        return spec
    }

    /// `--docker-compose SERVICE` (with its files), else the config's `[docker_compose]`.
    public func dockerCompose(flag: DockerComposeOptions?) -> DockerComposeOptions? {
        flag ?? config?.dockerCompose
    }

    /// The retention policy: each `--keep-*` flag over the config's `[retention]` over the defaults.
    public func policy(_ flags: RetentionFlags, destination: RemoteDestination? = nil) -> RetentionPolicy {
        var p = config?.retention ?? RetentionPolicy()
        destination?.retention?.apply(to: &p)
        flags.apply(to: &p)
        return p
    }

    /// The destinations a command uses: each `--remote` (a configured destination's name, or a
    /// target), else, with `configured`, every destination of the config (`[[remote]]` or
    /// `[remote]`). Backup, run and status take the configured ones; list, prune and restore work
    /// on the local directory unless `--remote` names one.
    public func destinations(flags: [String], configured: Bool, retention: RetentionFlags = RetentionFlags()) throws
        -> [Destination]
    {
        let known = config?.destinations ?? []
        let chosen =
            flags.isEmpty
            ? (configured ? known : [])
            : flags.map { flag in
                known.first { $0.name == flag || $0.target == flag } ?? RemoteDestination(target: flag)
            }
        return try chosen.map {
            Destination(
                $0, store: try RemoteStores.make(target: $0.target, environment: environment),
                policy: policy(retention, destination: $0))
        }
    }

    /// `--remote-only` or the config's `remote_only`.
    public func remoteOnly(flag: Bool) -> Bool { flag || (config?.remoteOnly ?? false) }

    /// `--max-age`, else the config's `[status] max_age`, else 26 hours.
    public func maxAge(flag: String?) throws -> TimeInterval {
        try flag.map(DurationText.parse) ?? config?.maxAge ?? 26 * 3600
    }

    /// `[status] rto` and `drill_max_age`.
    public var restoreForecast: RestoreForecast { RestoreForecast(rto: config?.rto, drillMaxAge: config?.drillMaxAge) }

    /// The databases `status` expects: the flags', else the config's list (nil: all found).
    public func statusDatabases(flags: [String]) -> [String]? {
        if !flags.isEmpty { return flags }
        if case .list(let names)? = config?.databases { return names }
        return nil
    }

    /// `--identity`, else the config's `identity_file`.
    public func identity(flag: String?) -> String? { flag ?? config?.identityFile }

    /// The passphrase from `--passphrase-file`, else the config's (read and registered for redaction).
    public func passphrase(fileFlag: String?) throws -> String? {
        try (fileFlag ?? config?.passphraseFile).map(AgeTool.readPassphrase)
    }

    /// The hooks: each flag (split like a shell, never run by one) over the config's `[hooks]`;
    /// the config's password variable is withheld from them.
    public func hooks(onSuccess: String?, onFailure: String?) throws -> Hooks {
        var hooks = Hooks(
            onSuccess: try onSuccess.map { try ShellWords.split($0, option: "--on-success") } ?? config?.onSuccess,
            onFailure: try onFailure.map { try ShellWords.split($0, option: "--on-failure") } ?? config?.onFailure)
        if let name = config?.passwordEnv { hooks.withheld.append(name) }
        return hooks
    }
}

/// The connection flags as typed (`--dbname`, `--host`, `--port`, `--username`).
public struct ConnectionFlags: Sendable, Equatable {
    public var dbname: String?
    public var host: String?
    public var port: String?
    public var username: String?

    public init(dbname: String? = nil, host: String? = nil, port: String? = nil, username: String? = nil) {
        self.dbname = dbname
        self.host = host
        self.port = port
        self.username = username
    }
}

/// The `--keep-*` flags as typed; nil keeps the config's (or the default) count.
public struct RetentionFlags: Sendable, Equatable {
    /// Each count given here over `policy`'s.
    func apply(to policy: inout RetentionPolicy) {
        policy.last = last ?? policy.last
        policy.hourly = hourly ?? policy.hourly
        policy.daily = daily ?? policy.daily
        policy.weekly = weekly ?? policy.weekly
        policy.monthly = monthly ?? policy.monthly
        policy.yearly = yearly ?? policy.yearly
    }

    public var last: Int?
    public var hourly: Int?
    public var daily: Int?
    public var weekly: Int?
    public var monthly: Int?
    public var yearly: Int?

    public init(
        last: Int? = nil, hourly: Int? = nil, daily: Int? = nil, weekly: Int? = nil, monthly: Int? = nil,
        yearly: Int? = nil
    ) {
        self.last = last
        self.hourly = hourly
        self.daily = daily
        self.weekly = weekly
        self.monthly = monthly
        self.yearly = yearly
    }
}
