import Foundation

/// SQL quoting for standard_conforming_strings = on (the default since PostgreSQL 9.1).
public enum SQL {
    /// The server's version (number and text), the database and the user, where libpq cannot say.
    static let serverInfo =
        "SELECT current_setting('server_version_num'), current_setting('server_version'), current_database(), "
        + "current_user"
    /// The databases that accept connections, templates excluded (what --all backs up and copies).
    static let connectableDatabases =
        "SELECT datname FROM pg_catalog.pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname"

    /// Each connectable database's size in bytes (one the user may not connect to: NULL).
    static let databaseSizes =
        "SELECT datname, CASE WHEN has_database_privilege(oid, 'CONNECT') THEN pg_database_size(oid) END "
        + "FROM pg_catalog.pg_database WHERE datallowconn AND NOT datistemplate"

    /// Dropping a database that a stopped client may still be connected to: WITH (FORCE) ends
    /// its sessions (PostgreSQL 13 and later); the plain form for older servers.
    public static func dropDatabase(_ name: String) -> [String] {
        ["DROP DATABASE IF EXISTS \(identifier(name)) WITH (FORCE)", "DROP DATABASE IF EXISTS \(identifier(name))"]
    }

    public static func literal(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }
    public static func identifier(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
