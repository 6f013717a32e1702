import ArgumentParser
import Foundation
import PGKeep

/// `--config FILE` (or PGKEEP_CONFIG): settings below the flags and the environment.
struct ConfigOptions: ParsableArguments {
    /// A TOML config file (see docs/config.md).
    @Option(
        name: .customLong("config"),
        help: ArgumentHelp(
            "TOML config file (default: PGKEEP_CONFIG). Flags and the environment override it.", valueName: "file"))
    var path: String?

    /// This process's environment and the config file, read and checked.
    func settings() throws -> Settings {
        try Settings.load(configFlag: path, environment: ProcessInfo.processInfo.environment)
    }
}

/// `--dir` and `--config`, for every command that works on a backup directory.
struct DirectoryOptions: ParsableArguments {
    /// The backup directory.
    @Option(
        name: .customLong("dir"),
        help: ArgumentHelp(
            "Backup directory (default: PGKEEP_DIR, then the config file's [backup] dir).", valueName: "dir"))
    var directory: String?

    @OptionGroup var config: ConfigOptions

    /// One `[[server]]` of the config file.
    @Option(
        name: .customLong("server"),
        help: ArgumentHelp(
            "Work on this [[server]] of the config file: its connection, databases, directory and retention.",
            valueName: "name"))
    var server: String?

    /// The settings, narrowed to `--server` when given.
    func settings() throws -> Settings {
        let settings = try config.settings()
        guard let server else { return settings }
        guard let file = settings.config else {
            throw PGKeepError(.usage, "--server \(server) needs a config file with [[server]] tables (--config)")
        }
        return Settings(environment: settings.environment, config: file.forServer(try file.server(named: server)))
    }
}

/// `--identity` and `--passphrase-file`: how to decrypt encrypted backups (restore, verify, drills).
struct IdentityOptions: ParsableArguments {
    /// The age key file.
    @Option(
        name: .customLong("identity"),
        help: ArgumentHelp(
            "age key file to decrypt encrypted backups (default: the config's [encryption] identity_file).",
            valueName: "file"))
    var identity: String?

    /// The passphrase's file.
    @Option(
        name: .customLong("passphrase-file"),
        help: ArgumentHelp(
            "File holding the passphrase of passphrase-encrypted backups (default: the config's passphrase_file).",
            valueName: "file"))
    var passphraseFile: String?

    /// Hands the identity and the passphrase (flag over config) to a verifier.
    func apply(to job: VerifyJob, settings: Settings) throws {
        job.identity = settings.identity(flag: identity)
        job.passphrase = try settings.passphrase(fileFlag: passphraseFile)
    }
}

/// `--remote`: object storage through rclone.
struct RemoteOptions: ParsableArguments {
    /// `REMOTE:bucket/prefix`, or a configured destination's name; repeatable.
    @Option(
        name: .customLong("remote"),
        help: ArgumentHelp(
            "An rclone remote, REMOTE:bucket/prefix, or the name of a [[remote]] destination; repeatable "
                + "(backup, run and status default to every configured destination).",
            valueName: "remote"))
    var remotes: [String] = []
}

/// `--remote` and `--remote-only` for the commands that upload (backup, run).
struct UploadOptions: ParsableArguments {
    @OptionGroup var remote: RemoteOptions

    /// Keep only the remote copy.
    @Flag(name: .customLong("remote-only"), help: "Remove the local copy once the remote one is verified.")
    var remoteOnly = false

    func apply(to flags: inout BackupFlags) {
        flags.remotes = remote.remotes
        flags.remoteOnly = remoteOnly
    }
}

/// `--on-success` / `--on-failure`.
struct HookOptions: ParsableArguments {
    /// Run after each database's verified backup.
    @Option(
        name: .customLong("on-success"),
        help: ArgumentHelp(
            "Command run after each successful backup (words split like a shell, no shell). "
                + "Gets PGKEEP_STATUS, PGKEEP_DATABASE, PGKEEP_BACKUP_PATH.",
            valueName: "command"))
    var onSuccess: String?

    /// Run after each database whose backup failed.
    @Option(
        name: .customLong("on-failure"),
        help: ArgumentHelp(
            "Command run after each failed backup. Gets PGKEEP_STATUS, PGKEEP_DATABASE, PGKEEP_ERROR.",
            valueName: "command"))
    var onFailure: String?

    func hooks(_ settings: Settings) throws -> Hooks {
        try settings.hooks(onSuccess: onSuccess, onFailure: onFailure)
    }
}
