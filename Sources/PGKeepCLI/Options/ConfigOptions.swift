import ArgumentParser
import Foundation
import PGKeep

/// `--config FILE` (or PGKEEP_CONFIG): settings below the flags and the environment.
struct ConfigOptions: ParsableArguments {
    /// A TOML config file (see README, "The config file").
    @Option(name: .customLong("config"), help: ArgumentHelp("TOML config file (default: PGKEEP_CONFIG). Flags and the environment override it.", valueName: "file"))
    var path: String?

    /// The file named by --config or PGKEEP_CONFIG, read and checked; nil when neither is given.
    func load(environment: [String: String]) throws -> PGKeepConfig? {
        try Self.load(path: path, environment: environment)
    }

    static func load(path: String?, environment: [String: String]) throws -> PGKeepConfig? {
        guard let file = path ?? environment["PGKEEP_CONFIG"].flatMap({ $0.isEmpty ? nil : $0 }) else { return nil }
        return try PGKeepConfig.load(path: file)
    }
}

/// `--dir` and `--config`, for every command that works on a backup directory.
struct DirectoryOptions: ParsableArguments {
    /// The backup directory.
    @Option(name: .customLong("dir"), help: ArgumentHelp("Backup directory (default: PGKEEP_DIR, then the config file's [backup] dir).", valueName: "dir"))
    var directory: String?

    @OptionGroup var config: ConfigOptions

    func config(environment: [String: String]) throws -> PGKeepConfig? {
        try config.load(environment: environment)
    }

    /// --dir, else PGKEEP_DIR, else the config's; a usage error when none gives one.
    func requireDirectory(environment: [String: String], config: PGKeepConfig?) throws -> String {
        let dir = directory ?? environment["PGKEEP_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? config?.directory
        guard let dir else {
            throw PGKeepError(.usage, "no backup directory: give --dir, set PGKEEP_DIR, or set dir in the config file's [backup]")
        }
        return dir
    }
}

/// `--identity`: the age key file for encrypted backups (restore, verify, drills).
struct IdentityOptions: ParsableArguments {
    @Option(name: .customLong("identity"), help: ArgumentHelp("age key file to decrypt encrypted backups (default: the config's [encryption] identity_file).", valueName: "file"))
    var identity: String?

    @Option(name: .customLong("passphrase-file"), help: ArgumentHelp("File holding the passphrase of passphrase-encrypted backups (default: the config's passphrase_file).", valueName: "file"))
    var passphraseFile: String?

    func identity(config: PGKeepConfig?) -> String? { identity ?? config?.identityFile }

    /// The passphrase, read from its file (and registered for redaction), if one is given.
    func passphrase(config: PGKeepConfig?) throws -> String? {
        try (passphraseFile ?? config?.passphraseFile).map(AgeTool.readPassphrase)
    }
}

/// `--remote`: object storage through rclone.
struct RemoteOptions: ParsableArguments {
    @Option(name: .customLong("remote"), help: ArgumentHelp("An rclone remote, REMOTE:bucket/prefix (backup, run and status default to the config's [remote] target).", valueName: "remote"))
    var remote: String?

    /// The remote from the flag or the config, nil when neither names one (backup and run).
    func remote(config: PGKeepConfig?, environment: [String: String]) throws -> RcloneRemote? {
        guard let target = remote ?? config?.remote else { return nil }
        return try RcloneRemote(target: target, environment: environment)
    }

    /// The remote only when --remote names it (list, prune, restore: the local directory otherwise).
    func explicitRemote(environment: [String: String]) throws -> RcloneRemote? {
        try remote.map { try RcloneRemote(target: $0, environment: environment) }
    }
}

/// `--remote` and `--remote-only` for the commands that upload (backup, run).
struct UploadOptions: ParsableArguments {
    @OptionGroup var remote: RemoteOptions

    /// Keep only the remote copy.
    @Flag(name: .customLong("remote-only"), help: "Remove the local copy once the remote one is verified.")
    var remoteOnly = false

    /// The remote (flag, else config) and whether to keep only it.
    func apply(to options: inout BackupOptions, config: PGKeepConfig?, environment: [String: String]) throws {
        options.remote = try remote.remote(config: config, environment: environment)
        options.remoteOnly = remoteOnly || (config?.remoteOnly ?? false)
    }
}

/// `--on-success` / `--on-failure`.
struct HookOptions: ParsableArguments {
    /// Run after each database's verified backup.
    @Option(name: .customLong("on-success"), help: ArgumentHelp("Command run after each successful backup (words split like a shell, no shell). Gets PGKEEP_STATUS, PGKEEP_DATABASE, PGKEEP_BACKUP_PATH.", valueName: "command"))
    var onSuccess: String?

    /// Run after each database whose backup failed.
    @Option(name: .customLong("on-failure"), help: ArgumentHelp("Command run after each failed backup. Gets PGKEEP_STATUS, PGKEEP_DATABASE, PGKEEP_ERROR.", valueName: "command"))
    var onFailure: String?

    /// Flags over the config file's [hooks]; the config's password variable is withheld.
    func hooks(config: PGKeepConfig?) throws -> Hooks {
        var hooks = Hooks(onSuccess: try onSuccess.map { try ShellWords.split($0, option: "--on-success") } ?? config?.onSuccess,
                          onFailure: try onFailure.map { try ShellWords.split($0, option: "--on-failure") } ?? config?.onFailure)
        if let name = config?.passwordEnv { hooks.withheld.append(name) }
        return hooks
    }
}

extension Hooks {
    /// After a backup run: on_success for each database whose backup was recorded (and pruned)
    /// without error, on_failure for each that failed. Hook failures are printed as warnings.
    func fire(for summary: BackupJob.Summary) {
        let failed = Set(summary.failures.map(\.database))
        for record in summary.records where !failed.contains(record.manifest.database) {
            warn(run(.init(database: record.manifest.database, backupPath: record.path, error: nil)))
        }
        for (database, error) in summary.failures {
            warn(run(.init(database: database, backupPath: nil, error: error.message)))
        }
    }

    /// A run that failed before any database: on_failure hears of it with an empty database.
    func fire(before error: PGKeepError, database: String = "") {
        guard Cancellation.shared.signalReceived == nil else { return }
        warn(run(.init(database: database, backupPath: nil, error: error.message)))
    }

    private func warn(_ error: PGKeepError?) {
        if let error { printStderr("pgkeep: warning: " + error.description) }
    }
}

/// Resolving a setting from its flag, the environment, the config file and the default.
enum Settings {
    static func pgBin(flag: String?, environment: [String: String], config: PGKeepConfig?) -> String? {
        flag ?? environment["PGKEEP_PG_BIN"].flatMap { $0.isEmpty ? nil : $0 } ?? config?.pgBin
    }

    /// Sets up --log-file (flag over config) and quiet (flag or config) for this process.
    static func output(_ output: OutputOptions, config: PGKeepConfig?) throws {
        Output.quiet = output.quiet || (config?.quiet ?? false)
        if let path = output.logFile ?? config?.logFile {
            Output.log = try LogFile(path: path)
        }
    }
}
