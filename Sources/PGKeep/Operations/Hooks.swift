import Foundation

/// Commands run after each database's backup: `on_success` or `on_failure`, as argument arrays
/// (no shell), told what happened through PGKEEP_STATUS (`success` or `failure`),
/// PGKEEP_DATABASE, PGKEEP_BACKUP_PATH (empty on failure) and PGKEEP_ERROR (empty on success).
/// Their environment is pgkeep's without anything that can carry a password: libpq's variables,
/// URIs, the config's `password_env`, and any variable whose value holds the password.
public struct Hooks: Sendable, Equatable {
    public var onSuccess: [String]?
    public var onFailure: [String]?
    /// Variables never passed to a hook: libpq's password and URIs that may hold one, and the
    /// variable a config file names in `password_env`.
    public var withheld: [String] = ["PGPASSWORD", "PGPASSFILE", "DATABASE_URL", "POSTGRESQL_URI"]
    /// Variables a hook always keeps, whatever their value (a password `postgres` is no reason
    /// to take USER=postgres away).
    static let neverSecret: Set<String> = ["PATH", "HOME", "USER", "LOGNAME", "SHELL", "PWD", "LANG", "TZ"]
    /// How long a hook may run before it is stopped.
    public var timeout: TimeInterval = 300

    public init(onSuccess: [String]? = nil, onFailure: [String]? = nil) {
        self.onSuccess = onSuccess
        self.onFailure = onFailure
    }

    /// What one hook is told.
    public struct Event: Sendable {
        public var database: String
        public var backupPath: String?
        public var error: String?
        public init(database: String, backupPath: String?, error: String?) {
            self.database = database
            self.backupPath = backupPath
            self.error = error
        }
        public var succeeded: Bool { error == nil }
    }

    /// `base` without the password variables and any other variable that carries a password (under
    /// a name of the user's choosing): what a program pgkeep starts for the user gets (hooks, the
    /// mail program).
    static func scrubbed(_ base: [String: String], withheld: [String] = Hooks().withheld) -> [String: String] {
        var env = base
        for name in withheld { env[name] = nil }
        for (name, value) in env where !neverSecret.contains(name) && Redaction.shared.isSecretValue(value) {
            env[name] = nil
        }
        return env
    }

    /// The hook's environment for `event`.
    public func environment(for event: Event, base: [String: String]) -> [String: String] {
        var env = Self.scrubbed(base, withheld: withheld)
        env["PGKEEP_STATUS"] = event.succeeded ? "success" : "failure"
        env["PGKEEP_DATABASE"] = event.database
        env["PGKEEP_BACKUP_PATH"] = event.backupPath ?? ""
        env["PGKEEP_ERROR"] = event.error.map { Redaction.shared.apply($0) } ?? ""
        return env
    }

    /// Runs the matching hook, if any. Returns an error describing a hook that could not start,
    /// failed or timed out; the backup's own outcome is not changed by it.
    public func run(_ event: Event, base: [String: String] = ProcessInfo.processInfo.environment) -> PGKeepError? {
        guard let argv = event.succeeded ? onSuccess : onFailure, let first = argv.first else { return nil }
        let which = event.succeeded ? "on-success" : "on-failure"
        guard let executable = Command.find(first, environment: base) else {
            return PGKeepError(
                .backup, "the \(which) hook \(first) was not found on PATH", hint: "give its absolute path")
        }
        let command = Command(
            executable: executable, arguments: Array(argv.dropFirst()), environment: environment(for: event, base: base)
        )
        let child = ChildProcess(command, stdout: .collect)
        do {
            try child.start()
        } catch let e as PGKeepError {
            return PGKeepError(.backup, "the \(which) hook could not start: \(e.message)", command: command.description)
        } catch {
            return PGKeepError(.backup, "the \(which) hook could not start: \(error)", command: command.description)
        }
        let timer = DispatchWorkItem { child.terminate(grace: 2) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer)
        let result = child.wait()
        timer.cancel()
        guard result.succeeded else {
            return PGKeepError(
                .backup, "the \(which) hook for \(event.database) \(result.termination)", command: command.description,
                stderrTail: result.stderr + String(decoding: result.stdout, as: UTF8.self))
        }
        return nil
    }
}
