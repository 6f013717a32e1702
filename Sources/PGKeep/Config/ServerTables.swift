import Foundation

/// One `[[server]]` table: a PostgreSQL server of a fleet, with its own connection keys (over
/// `[connection]`'s), its databases, and optionally its own directory and retention. Backups of
/// different servers never share a folder: a server's directory is `[backup] dir/<name>` unless it
/// sets `dir`.
public struct ServerEntry: Sendable, Equatable {
    public var name: String
    public var uri: String?
    public var host: String?
    public var port: String?
    public var user: String?
    public var dbname: String?
    public var passwordFile: String?
    public var passwordEnv: String?
    /// Its databases (nil: `[backup] databases`).
    public var databases: PGKeepConfig.DatabaseSelection?
    /// Left out of `"all"`.
    public var exclude: [String] = []
    public var directory: String?
    /// The keep_* counts of its `[server.retention]`, over `[retention]`.
    public var retention: RetentionFlags?

    static let keys = [
        "name", "uri", "host", "port", "user", "dbname", "password_file", "password_env", "databases", "exclude", "dir",
        "retention",
    ]
}

extension PGKeepConfig {
    /// The config as one server of the fleet sees it: its connection keys over `[connection]`'s,
    /// its databases, directory and retention; no other server.
    public func forServer(_ server: ServerEntry) -> PGKeepConfig {
        var c = self
        c.servers = []
        c.serverName = server.name
        if server.uri != nil || server.host != nil || server.port != nil {
            // A server named by its own address does not inherit another's.
            (c.uri, c.host, c.port) = (server.uri, server.host, server.port)
        }
        c.user = server.user ?? c.user
        c.dbname = server.dbname ?? (server.uri == nil ? c.dbname : nil)
        if server.passwordFile != nil || server.passwordEnv != nil {
            (c.passwordFile, c.passwordEnv) = (server.passwordFile, server.passwordEnv)
        }
        c.databases = server.databases ?? c.databases
        c.exclude = server.exclude
        if let dir = server.directory {
            c.directory = dir
        } else if let dir = directory {
            c.directory = (dir as NSString).appendingPathComponent(server.name)
        }
        // Each server's backups go to a folder of its own on every destination too: two servers'
        // databases of one name (every server has @globals) never share a remote folder.
        c.destinations = destinations.map { d in
            var d = d
            d.target = d.target.hasSuffix("/") ? d.target + server.name : d.target + "/" + server.name
            return d
        }
        if let keep = server.retention {
            var policy = retention ?? RetentionPolicy()
            keep.apply(to: &policy)
            c.retention = policy
        }
        return c
    }

    /// The `[[server]]` named `name`.
    public func server(named name: String) throws -> ServerEntry {
        guard let entry = servers.first(where: { $0.name == name }) else {
            throw PGKeepError(
                .usage,
                servers.isEmpty
                    ? "--server \(name): the config file has no [[server]] tables"
                    : "--server \(name): no [[server]] has that name",
                hint: servers.isEmpty ? nil : "the servers are " + servers.map(\.name).joined(separator: ", "))
        }
        return entry
    }
}

extension ConfigReader {
    /// `[[server]]` elements: each needs a `name` (letters, digits, `_`, `-`, `.`; unique), which
    /// is also its folder.
    func servers() throws -> [ServerEntry] {
        guard let elements = root["server"]?.array else { return [] }
        var out: [ServerEntry] = []
        for (index, element) in elements.enumerated() {
            let label = "server (table \(index + 1))"
            let (table, sub) = try scopedElement(element, of: "server", label: label, keys: ServerEntry.keys)
            guard let name = try sub.string("server.name") else {
                throw fail("server", "\(label) needs name = \"...\"")
            }
            let allowed = CharacterSet(
                charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
            guard name.unicodeScalars.allSatisfy(allowed.contains), !name.hasPrefix(".") else {
                throw fail(
                    "server", "\(label): name \"\(name)\" may hold only letters, digits, _, - and . (it is a folder)")
            }
            guard !out.contains(where: { $0.name == name }) else {
                throw fail("server", "\(label): two servers are named \"\(name)\"")
            }
            var entry = ServerEntry(name: name)
            entry.uri = try ConfigType.uri.read(sub, "server.uri")
            entry.host = try sub.string("server.host")
            entry.port = try sub.port("server.port")
            entry.user = try sub.string("server.user")
            entry.dbname = try sub.string("server.dbname")
            entry.passwordFile = try sub.string("server.password_file").map(resolve)
            entry.passwordEnv = try sub.string("server.password_env")
            entry.databases = try ConfigType.databases.read(sub, "server.databases")
            entry.exclude = try sub.stringArray("server.exclude") ?? []
            entry.directory = try sub.string("server.dir").map(resolve)
            if table["retention"] != nil { entry.retention = try sub.retentionFlags(label: label, table: "server") }
            out.append(entry)
        }
        return out
    }
}
