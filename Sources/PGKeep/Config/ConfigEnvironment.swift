import Foundation

/// Every config key can also be set by an environment variable, `PGKEEP_<TABLE>_<KEY>` in
/// capitals (`PGKEEP_BACKUP_DIR`, `PGKEEP_SCHEDULE_CRON`, `PGKEEP_CONNECTION_PASSWORD_FILE`), so
/// a container needs no mounted file. A variable's value is read as a TOML value when it is one
/// (`true`, `7`, `["shop", "crm"]`), else as a string (`/backups`, `0 3 * * *`, `zstd:3`); it
/// wins over the file's key and is checked the same way. Secrets have no key of their own: a
/// password comes through `password_file` or `password_env`, as in the file.
enum ConfigEnvironment {
    /// The `PGKEEP_<TABLE>_<KEY>` variables set (and not empty) in `environment`, by qualified key.
    static func overrides(in environment: [String: String]) -> [String: String] {
        var out: [String: String] = [:]
        for key in ConfigKey.all {
            if let value = environment[key.environmentName], !value.isEmpty { out[key.qualified] = value }
        }
        return out
    }

    /// `root` with the overrides set over it.
    static func overlay(_ overrides: [String: String], on root: TOMLTable) throws -> TOMLTable {
        guard !overrides.isEmpty else { return root }
        var out = root
        for (qualified, text) in overrides.sorted(by: { $0.key < $1.key }) {
            let parts = qualified.split(separator: ".", maxSplits: 1).map(String.init)
            // A variable for [remote] beside [[remote]] destinations would silently replace them all.
            if out[parts[0]]?.array != nil {
                let name = ConfigKey.all.first { $0.qualified == qualified }?.environmentName ?? qualified
                throw PGKeepError(
                    .usage,
                    "\(name) is set, but the config file has several [[\(parts[0])]] tables; a variable cannot say "
                        + "which one it changes",
                    hint: "unset \(name), or give the value in the file's [[\(parts[0])]] table")
            }
            var table = out[parts[0]]?.table ?? TOMLTable()
            table.set(parts[1], value(text))
            out.set(parts[0], .table(table))
        }
        return out
    }

    /// A variable's text as a TOML value, else as a string.
    static func value(_ text: String) -> TOMLValue {
        guard let parsed = try? TOMLTable(parsing: "v = " + text), let value = parsed["v"] else {
            return .string(text)
        }
        return value
    }
}

extension ConfigKey {
    /// `PGKEEP_<TABLE>_<KEY>`.
    var environmentName: String { "PGKEEP_" + table.uppercased() + "_" + name.uppercased() }
}

extension PGKeepConfig {
    /// The file's config (if `path` names one) with the `PGKEEP_<TABLE>_<KEY>` variables over it;
    /// with variables but no file, the variables alone (relative paths from the working folder);
    /// nil when there is neither.
    public static func load(path: String?, environment: [String: String]) throws -> PGKeepConfig? {
        let overrides = ConfigEnvironment.overrides(in: environment)
        if let path { return try load(path: path, overrides: overrides) }
        guard !overrides.isEmpty else { return nil }
        return try parse("", path: "(environment)", overrides: overrides)
    }
}
