import Foundation

/// A PostgreSQL client tool's version as read from `TOOL --version`.
public struct ToolVersion: Sendable, Equatable, CustomStringConvertible {
    /// e.g. "15.18".
    public var string: String
    /// Major version key: 1500 for 15.x, 906 for 9.6.x; compare with ServerInfo.majorKey.
    public var majorKey: Int

    /// Parses "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" and the like.
    public static func parse(_ output: String) -> ToolVersion? {
        guard let regex = try? NSRegularExpression(pattern: "\\(PostgreSQL\\)\\s+(\\d+)(?:\\.(\\d+))?(?:\\.(\\d+))?"),
            let m = regex.firstMatch(in: output, range: NSRange(output.startIndex..., in: output))
        else { return nil }
        func group(_ i: Int) -> Int? {
            guard let r = Range(m.range(at: i), in: output) else { return nil }
            return Int(output[r])
        }
        guard let first = group(1) else { return nil }
        let second = group(2)
        let string = [first, second, group(3)].compactMap { $0 }.map(String.init).joined(separator: ".")
        let key = first >= 10 ? first * 100 : first * 100 + (second ?? 0)
        return ToolVersion(string: string, majorKey: key)
    }

    public var description: String { string }
}

/// Where pg_dump, pg_restore, psql and pg_dumpall are: `--pg-bin DIR` (or PGKEEP_PG_BIN, or the
/// config's `pg_bin`); otherwise the newest client `ClientSearch` finds on PATH, in the usual
/// install locations and in the configured list; otherwise the first match on PATH.
public struct PostgresTools: Sendable {
    public var directory: String?
    public var searchPath: [String]
    public var search: ClientSearch
    let environment: [String: String]

    public init(pgBin: String?, environment: [String: String], searchList: [String] = []) {
        let dir = pgBin ?? environment["PGKEEP_PG_BIN"]
        directory = (dir?.isEmpty ?? true) ? nil : dir
        searchPath = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        let configured = (environment["PGKEEP_PG_BIN_SEARCH"] ?? "").split(separator: ":").map(String.init)
        search = ClientSearch(searchPath: searchPath, extraDirectories: configured + searchList)
        self.environment = environment
    }

    /// The client the search chose and every client it found (nil chosen with --pg-bin, or when none was found).
    public var choice: (chosen: ClientSearch.Client?, found: [ClientSearch.Client]) {
        guard directory == nil else { return (nil, []) }
        return ClientChoiceCache.shared.choose(search, environment: environment)
    }

    /// The bin directory the tools come from (nil: each tool from PATH).
    public var binDirectory: String? { directory ?? choice.chosen?.directory }

    /// One line for output: which client tools run and why.
    public var summary: String {
        if let directory { return "client tools from \(directory) (--pg-bin or PGKEEP_PG_BIN)" }
        let (chosen, found) = choice
        guard let chosen else { return "client tools from PATH" }
        var others: [String] = []
        for client in found where client.version != chosen.version && !others.contains(client.version.string) {
            others.append(client.version.string)
        }
        return "client tools \(chosen.version) from \(chosen.directory)"
            + (others.isEmpty ? "" : " (the newest found; also found: \(others.joined(separator: ", ")))")
    }

    /// The absolute path of `tool`, or a preflight error that says how to fix it.
    public func path(of tool: String) throws -> String {
        if let directory {
            let p = (directory as NSString).appendingPathComponent(tool)
            if FileManager.default.isExecutableFile(atPath: p) { return p }
            throw PGKeepError(
                .preflight, "\(tool) not found in --pg-bin \(directory)",
                hint: "point --pg-bin (or PGKEEP_PG_BIN) at a PostgreSQL bin directory, e.g. /usr/lib/postgresql/15/bin"
            )
        }
        if let chosen = choice.chosen {
            let p = (chosen.directory as NSString).appendingPathComponent(tool)
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        if let found = Command.find(tool, environment: [:], searchPath: searchPath) { return found }
        throw PGKeepError(
            .preflight, "\(tool) not found on PATH",
            hint: "install the PostgreSQL client (Debian: apt-get install postgresql-client) or use --pg-bin DIR")
    }

    /// For "too old" messages: the clients the search found, or that --pg-bin was given.
    public var foundText: String {
        if directory != nil { return "--pg-bin (or PGKEEP_PG_BIN) chose it" }
        let found = choice.found
        if found.isEmpty { return "no other PostgreSQL client was found" }
        return "clients found: " + found.map(\.description).joined(separator: "; ")
    }

    /// Runs `tool --version` and parses it.
    public func version(of toolPath: String, environment: [String: String]) throws -> ToolVersion {
        let (out, result) = try ChildProcess.capture(
            Command(executable: toolPath, arguments: ["--version"], environment: environment))
        let text = String(decoding: out, as: UTF8.self)
        guard result.succeeded, let v = ToolVersion.parse(text) else {
            throw PGKeepError(
                .preflight, "cannot read the version of \(toolPath)",
                command: result.command.description, stderrTail: result.stderrTail() + text)
        }
        return v
    }
}
