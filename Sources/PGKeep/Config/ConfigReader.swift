import Foundation

/// Walks the parsed file along `ConfigKey.all`: first every key of the file must be in the
/// table, then each key of the table is read, typed and checked, then the few rules that join
/// keys are checked. Every error names the file, the line and the key.
struct ConfigReader {
    let root: TOMLTable
    let locator: KeyLocator
    let path: String
    /// The config file's folder: relative paths in the file are relative to it, not to the
    /// working directory (cron starts in $HOME, systemd in /).
    let base: String
    /// Keys whose value came from a `PGKEEP_<TABLE>_<KEY>` variable: their errors name it.
    var fromEnvironment: Set<String> = []

    func fail(_ key: String, _ message: String, hint: String? = nil) -> PGKeepError {
        if fromEnvironment.contains(key), let entry = ConfigKey.all.first(where: { $0.qualified == key }) {
            return PGKeepError(.usage, "\(entry.environmentName) (\(key)): \(message)", hint: hint)
        }
        let line = locator.line(of: key).map { ":\($0)" } ?? ""
        return PGKeepError(.usage, "\(path)\(line): \(key): \(message)", hint: hint)
    }

    func read(into config: PGKeepConfig) throws -> PGKeepConfig {
        try checkKeys()
        var c = config
        for key in ConfigKey.all { try key.apply(self, &c) }
        return try checkTogether(c)
    }

    /// Every table and key of the file, in file order, must be one of `ConfigKey.all`.
    private func checkKeys() throws {
        let byLine = { (a: String, b: String) in (locator.line(of: a) ?? 0, a) < (locator.line(of: b) ?? 0, b) }
        for name in root.keys.sorted(by: byLine) {
            // The fleet's servers: [[server]] elements, read by `servers()`.
            if name == "server" {
                guard root[name]?.array != nil else {
                    throw fail(name, "servers are [[server]] tables, one per server")
                }
                continue
            }
            let keys = ConfigKey.all.filter { $0.table == name }.map(\.name)
            guard !keys.isEmpty else {
                throw fail(
                    name, "unknown key",
                    hint: "the tables are " + ConfigKey.tables.map { "[\($0)]" }.joined(separator: ", "))
            }
            // Several destinations: [[remote]] elements, read by `destinations()`.
            if root[name]?.array != nil {
                guard name == "remote" else { throw fail(name, "arrays of tables are only for [[remote]]") }
                continue
            }
            guard let table = root[name]?.table else { throw fail(name, "must be a table ([\(name)])") }
            for key in table.keys.map({ "\(name).\($0)" }).sorted(by: byLine)
            where !keys.contains(String(key.dropFirst(name.count + 1))) {
                if key == "connection.password" {
                    throw fail(
                        key, "an inline password is not accepted",
                        hint:
                            "put it in a file (password_file = \"/etc/pgkeep/password\", mode 0600) or an environment "
                            + "variable (password_env = \"PGKEEP_PASSWORD\")"
                    )
                }
                throw fail(key, "unknown key", hint: "[\(name)] accepts " + keys.joined(separator: ", "))
            }
        }
    }

    /// The rules that join keys.
    private func checkTogether(_ config: PGKeepConfig) throws -> PGKeepConfig {
        var c = config
        if root["retention"] != nil {
            c.retention = c.retention ?? RetentionPolicy()
            if c.retention?.rules.allSatisfy({ $0.count == 0 }) == true {
                throw fail("retention", "every keep_* count is 0, which would delete all but the newest backup")
            }
        }
        if root["docker_compose"] != nil && (c.dockerCompose?.service ?? "").isEmpty {
            throw fail("docker_compose", "needs service = \"NAME\" (the compose service that runs PostgreSQL)")
        }
        if c.passphraseFile != nil && c.recipients != nil {
            throw fail(
                "encryption.passphrase_file",
                "cannot be used with recipients: age encrypts to recipients or to a passphrase")
        }
        if let backup = root["backup"]?.table, backup["compress"] != nil, backup["compress_level"] != nil {
            throw fail(
                "backup.compress_level", "cannot be used with compress",
                hint: "write compress = \"gzip:N\" (or \"zstd:N\") alone")
        }
        if c.remoteOnly == true && c.remote == nil {
            throw fail("remote.remote_only", "needs target = \"REMOTE:bucket/prefix\"")
        }
        c.servers = try servers()
        if let several = try destinations() {
            c.destinations = several
        } else if let target = c.remote {
            c.destinations = [RemoteDestination(target: target, remoteOnly: c.remoteOnly ?? false)]
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

    func value(_ key: String) -> TOMLValue? {
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
        guard range.contains(n) else {
            throw fail(key, "must be \(range.lowerBound) to \(range.upperBound) (got \(n))")
        }
        return n
    }

    /// A fraction from 0 to 1 (a float; 0 and 1 may be written as integers).
    func fraction(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        guard let d = v.double else { throw fail(key, "must be a number from 0 to 1 (got \(v.type))") }
        guard (0...1).contains(d) else { throw fail(key, "must be from 0 to 1 (got \(d))") }
        return d
    }

    /// A retention count: an integer from -1 (unlimited) up, or the word "unlimited".
    func count(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        if let s = v.string, let n = RetentionPolicy.count(s), n == -1 { return n }
        guard let n = v.int else { throw fail(key, "must be an integer or \"unlimited\" (got \(v.type))") }
        guard n >= -1 && n <= 1_000_000 else { throw fail(key, "must be -1 (unlimited) to 1000000 (got \(n))") }
        return n
    }

    func port(_ key: String) throws -> String? {
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
            throw fail(
                key, "must be an argument array, e.g. [\"/usr/local/bin/notify\", \"--channel\", \"ops\"]",
                hint: "hooks run without a shell; for a shell pipeline write [\"/bin/sh\", \"-c\", \"...\"]")
        }
        let words = try stringArray(key) ?? []
        guard !words.isEmpty else { throw fail(key, "is an empty list") }
        return words
    }
}

/// Finds the line of `table.key` in TOML text, for error messages only (the parsed tables keep no
/// node positions). It follows `[table]` headers and `key =` lines; a key it cannot place gets no line.
struct KeyLocator {
    private var lines: [String: Int] = [:]

    init(text: String) {
        var table = ""
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") {
                // [name], [[name]] (each element of an array of tables), [name.sub].
                let inner = line.drop(while: { $0 == "[" })
                if let close = inner.firstIndex(of: "]") {
                    table = Self.unquote(String(inner[..<close]).trimmingCharacters(in: .whitespaces))
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
