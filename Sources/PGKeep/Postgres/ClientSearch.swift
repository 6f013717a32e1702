import Foundation

/// Finds the PostgreSQL client tools when neither `--pg-bin` nor PGKEEP_PG_BIN names them: every
/// directory on PATH that holds pg_dump, the usual install locations (Debian's
/// /usr/lib/postgresql/N/bin, the PGDG RPMs' /usr/pgsql-N/bin, Homebrew's postgresql@N) and a
/// configured list (PGKEEP_PG_BIN_SEARCH, colon-separated, or the config's `pg_bin_search`),
/// and takes the newest: a newer pg_dump dumps every older server, an older one refuses a newer
/// server ("pg_dump is older than the server"). Debian's version-dispatching wrapper
/// (/usr/bin/pg_dump → pg_wrapper) is passed over for the clients it dispatches to.
public struct ClientSearch: Sendable {
    /// One client found: its bin directory and pg_dump's version.
    public struct Client: Sendable, Equatable, CustomStringConvertible {
        public var directory: String
        public var version: ToolVersion
        public var description: String { "\(version) in \(directory)" }
    }

    public var searchPath: [String]
    public var extraDirectories: [String]
    public var patterns: [String]

    public static let usualLocations = [
        "/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/opt/homebrew/opt/postgresql@*/bin",
        "/usr/local/opt/postgresql@*/bin", "/usr/local/pgsql/bin",
    ]

    public init(searchPath: [String], extraDirectories: [String] = [], patterns: [String] = usualLocations) {
        self.searchPath = searchPath
        self.extraDirectories = extraDirectories
        self.patterns = patterns
    }

    /// Candidate directories in order: configured, PATH, usual locations; each real directory once.
    public func candidateDirectories() -> [String] {
        var seen = Set<String>()
        var out: [String] = []
        let globbed = patterns.flatMap(Self.glob)
        for dir in extraDirectories + searchPath + globbed where !dir.isEmpty {
            let tool = (dir as NSString).appendingPathComponent("pg_dump")
            guard FileManager.default.isExecutableFile(atPath: tool) else { continue }
            let real = Self.realPath(tool)
            // Debian's /usr/bin/pg_dump is postgresql-common's perl wrapper: it runs one of the
            // /usr/lib/postgresql/N/bin clients the usual locations list anyway, and asking it
            // its version costs a perl start (7-11 % of a small restore's time).
            if (real as NSString).lastPathComponent == "pg_wrapper" { continue }
            if seen.insert(real).inserted { out.append(dir) }
        }
        return out
    }

    /// Every client found with its version (those whose `pg_dump --version` does not answer are left out).
    public func clients(environment: [String: String]) -> [Client] {
        let probe = PostgresTools(pgBin: "/", environment: environment)
        return candidateDirectories().compactMap { dir in
            let tool = (dir as NSString).appendingPathComponent("pg_dump")
            guard FileManager.default.isExecutableFile(atPath: (dir as NSString).appendingPathComponent("pg_restore")),
                let version = try? probe.version(of: tool, environment: environment)
            else { return nil }
            return Client(directory: dir, version: version)
        }
    }

    /// The newest client (ties: the first found, so PATH's wins over the usual locations).
    public static func newest(_ clients: [Client]) -> Client? {
        var best: Client?
        for client in clients where best.map({ Self.isNewer(client.version, than: $0.version) }) ?? true {
            best = client
        }
        return best
    }

    static func isNewer(_ a: ToolVersion, than b: ToolVersion) -> Bool {
        let pa = a.string.split(separator: ".").compactMap { Int($0) }
        let pb = b.string.split(separator: ".").compactMap { Int($0) }
        return pa.lexicographicallyPrecedes(pb) == false && pa != pb
    }

    /// The file a path names, every symlink resolved (realpath(3); Foundation's
    /// resolvingSymlinksInPath leaves relative link targets such as Debian's unresolved).
    static func realPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func glob(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(pattern, 0, nil, &g) == 0 else { return [] }
        return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }
    }
}

/// The search's answer for one process, found once (each candidate's --version is a child process).
// `answers` is a Locked, not held while a search runs.
final class ClientChoiceCache: Sendable {
    static let shared = ClientChoiceCache()
    private let answers = Locked([[String]: (chosen: ClientSearch.Client?, found: [ClientSearch.Client])]())

    func choose(_ search: ClientSearch, environment: [String: String]) -> (
        chosen: ClientSearch.Client?, found: [ClientSearch.Client]
    ) {
        let key = search.extraDirectories + ["|"] + search.searchPath + ["|"] + search.patterns
        if let cached = answers.withLock({ $0[key] }) { return cached }
        let found = search.clients(environment: environment)
        let answer = (ClientSearch.newest(found), found)
        answers.withLock { $0[key] = answer }
        return answer
    }
}
