import Foundation

extension Settings {
    /// What a run with this config file would use, after the environment (flags aside): one line
    /// per setting, `key  value  [where it came from]`, secrets masked. Every key of the file's
    /// tables is shown, set or defaulted.
    public func effectiveLines() -> [String] {
        guard let c = config else { return [] }
        var lines = ["config: \(c.path) (valid)"]
        func add(_ key: String, _ value: String?, _ origin: String = "file") {
            guard let value else { return }
            lines.append("\(key.padding(toLength: 16, withPad: " ", startingAt: 0)) \(value)  [\(origin)]")
        }
        func add<T>(_ key: String, _ value: T?, default fallback: String, _ show: (T) -> String) {
            add(key, value.map(show) ?? fallback, value == nil ? "default" : "file")
        }
        let env = environment
        let configured = try? c.connectionSpec(environment: env, readPassword: false)
        if let spec = try? ConnectionSpec.resolve(
            dbname: nil, host: nil, port: nil, username: nil, environment: env, configured: configured)
        {
            add(
                "connection", Redaction.shared.apply(spec.displayURI()),
                c.namesConnection ? "file, then PG* variables" : "environment")
        }
        if let file = c.passwordFile {
            add("password", "from password_file \(file)")
        } else if let name = c.passwordEnv {
            add("password", "from the environment variable \(name)")
        } else if c.hasInlinePassword {
            add("password", "inline in connection.uri (****)")
        } else {
            add("password", "libpq's own: PGPASSWORD, ~/.pgpass", "default")
        }
        if let bin = env["PGKEEP_PG_BIN"] {
            add("pg_bin", bin, "PGKEEP_PG_BIN")
        } else {
            add("pg_bin", c.pgBin, default: "the newest client found (PATH, usual locations, pg_bin_search)") { $0 }
        }
        if let list = c.pgBinSearch { add("pg_bin_search", list.joined(separator: ", ")) }
        if let dir = env["PGKEEP_DIR"] {
            add("dir", dir, "PGKEEP_DIR")
        } else {
            add("dir", c.directory, default: "(none: give --dir)") { $0 }
        }
        add("format", c.format, default: "custom") { $0.rawValue }
        add("compress", c.compression, default: "gzip:6") { $0.description }
        add("jobs", c.jobs, default: "1") { String($0) }
        add("threads", c.threads, default: "\(ProcessInfo.processInfo.activeProcessorCount) (the cores)") { String($0) }
        add("row_counts", c.rowCounts, default: "false") { String($0) }
        add("min_size_ratio", c.minSizeRatio, default: "0.5") { String($0) }
        add("max_row_loss", c.maxRowLoss, default: "0.5") { String($0) }
        add("label", c.label, default: "(none)") { $0 }
        switch c.databases {
        case .all?: add("databases", "all (and the globals)")
        case .list(let names)?: add("databases", names.joined(separator: ", "))
        case nil: add("databases", "the connection's database", "default")
        }
        add("retention", (c.retention ?? RetentionPolicy()).description, c.retention == nil ? "default" : "file")
        if let d = c.dockerCompose {
            let files = d.composeFiles.isEmpty ? "" : ", files \(d.composeFiles.joined(separator: ", "))"
            add("docker_compose", "service \(d.service) via \(d.composeCommand)" + files)
        }
        add("on_success", c.onSuccess.map(ShellWords.join))
        add("on_failure", c.onFailure.map(ShellWords.join))
        add("log_file", c.logFile)
        if c.quiet == true { add("quiet", "true") }
        add("max_age", c.maxAge, default: "26h") { DurationText.format($0) }
        if c.destinations.isEmpty { add("remote", "(none)", "default") }
        for d in c.destinations {
            let extras =
                (d.remoteOnly ? ", remote_only" : "")
                + ", retention \(policy(RetentionFlags(), destination: d).description)"
                + (d.retention == nil ? " (the file's)" : "")
            add("remote", (d.name == d.target ? d.target : "\(d.name): \(d.target)") + extras)
        }
        add("parallel", c.parallel, default: "1") { String($0) }
        if let n = c.perServer { add("per_server", String(n)) }
        add("min_interval", c.minInterval, default: "(none)") { DurationText.format($0) }
        for s in c.servers {
            let narrowed = c.forServer(s)
            let spec = try? narrowed.connectionSpec(environment: env, readPassword: false)
            let databases: String
            switch narrowed.databases {
            case .all?: databases = "all" + (s.exclude.isEmpty ? "" : " but " + s.exclude.joined(separator: ", "))
            case .list(let names)?: databases = names.joined(separator: ", ")
            case nil: databases = "the connection's database"
            }
            add(
                "server",
                "\(s.name): \(spec.map { Redaction.shared.apply($0.displayURI()) } ?? "(no connection)"), databases "
                    + "\(databases), dir \(narrowed.directory ?? "(none)"), retention "
                    + (narrowed.retention ?? RetentionPolicy()).description)
        }
        add("recipients", c.recipients, default: "(none: not encrypted)") { $0.joined(separator: ", ") }
        add("identity_file", c.identityFile)
        add("passphrase_file", c.passphraseFile)
        return lines
    }
}
