import Foundation

extension PGKeepConfig {
    /// The password from `password_file` or `password_env`, read when needed (never stored in
    /// the file itself). A trailing newline in the file is not part of it.
    public func password(environment: [String: String]) throws -> String? {
        if let file = passwordFile {
            guard let text = FileSystem.readSecret(file) else {
                throw PGKeepError(
                    .preflight, "cannot read the password file \(file) (connection.password_file in \(path))",
                    hint: "check that it exists and that this user can read it")
            }
            guard !text.isEmpty else { throw PGKeepError(.preflight, "the password file \(file) is empty") }
            return text
        }
        if let name = passwordEnv {
            guard let value = environment[name], !value.isEmpty else {
                throw PGKeepError(
                    .preflight, "the environment variable \(name) (connection.password_env in \(path)) is not set",
                    hint: "cron and systemd start with an almost empty environment; password_file is easier there")
            }
            return value
        }
        return nil
    }

    /// The connection the file describes: its URI, then its host/port/user/dbname fields over it,
    /// then the password from file or environment (unless `readPassword` is false, for display).
    /// Nil when the file names no connection.
    public func connectionSpec(environment: [String: String], readPassword: Bool = true) throws -> ConnectionSpec? {
        guard
            uri != nil || host != nil || port != nil || user != nil || dbname != nil
                || passwordFile != nil || passwordEnv != nil
        else { return nil }
        var spec = try uri.map { try ConnectionSpec.parse($0, source: "connection.uri in \(path)") } ?? ConnectionSpec()
        if let host { spec.parameters["host"] = host }
        if let port { spec.parameters["port"] = port }
        if let user { spec.parameters["user"] = user }
        if let dbname { spec.parameters["dbname"] = dbname }
        if readPassword, let password = try password(environment: environment) { spec.password = password }
        return spec
    }

    /// Whether the file names a server or a database at all.
    public var namesConnection: Bool {
        uri != nil || host != nil || port != nil || user != nil || dbname != nil
    }

    /// The database the file's connection names (its dbname, else the URI's).
    public var database: String? {
        dbname ?? uri.flatMap { try? ConnectionSpec.parse($0, source: "connection.uri") }?.database
    }

    /// Whether a password is written inline in the URI (allowed, but `config check` warns).
    public var hasInlinePassword: Bool {
        guard let uri else { return false }
        return (try? ConnectionSpec.parse(uri, source: "connection.uri"))?.password != nil
    }

    /// Warnings `config check` prints: settings that work but are risky.
    public func warnings(environment: [String: String]) -> [String] {
        var out: [String] = []
        if hasInlinePassword {
            out.append("connection.uri holds a password inline; move it to password_file or password_env")
        }
        if let file = passwordFile {
            var st = stat()
            if stat(file, &st) == 0, st.st_mode & 0o077 != 0 {
                out.append(
                    "the password file \(file) can be read by others (mode \(String(st.st_mode & 0o777, radix: 8))); "
                        + "chmod 600 it"
                )
            } else if !FileManager.default.fileExists(atPath: file) {
                out.append("the password file \(file) does not exist")
            }
        }
        if let name = passwordEnv, environment[name] == nil {
            out.append("\(name) (password_env) is not set in this environment")
        }
        if passwordFile != nil && passwordEnv != nil {
            out.append("both password_file and password_env are set; password_file is used")
        }
        return out
    }
}
