import CLibPQ
import Foundation

/// What preflight learns from the server.
public struct ServerInfo: Sendable {
    /// server_version_num, e.g. 150018.
    public var versionNumber: Int
    /// server_version as the server reports it, e.g. "15.18 (Debian 15.18-0+deb12u1)".
    public var version: String
    /// The database actually connected to (libpq's default applies when none was named).
    public var database: String
    public var user: String

    /// Major version in the form ToolVersion uses (1500 for 15, 906 for 9.6).
    public var majorKey: Int {
        versionNumber >= 100_000 ? (versionNumber / 10_000) * 100 : versionNumber / 100
    }
}

/// A libpq connection for preflight checks and small catalog queries. Not used for dumping.
// Not thread-safe; a connection is used by one thread at a time (copy and compare give each worker its own).
public final class PostgresConnection: @unchecked Sendable {
    let conn: OpaquePointer

    /// Connects or throws a one-line `.preflight` error that names the problem. The session is
    /// bounded (`SessionBounds`: keepalives, timeouts set explicitly over the role's) and named
    /// `pgkeep-PID-TAG`, so that the cancel sweep and the lock watch find it.
    /// `applicationName`: a watch names itself apart (`pgkeep-PID-TAG-watch`), so that watches never
    /// count each other's queries as pgkeep's work.
    public init(
        spec: ConnectionSpec, database: String? = nil, applicationName: String = ChildEnvironment.applicationName
    ) throws {
        var params = SessionBounds.current.apply(to: spec.parameters, own: true, writes: spec.writes)
        if let database { params["dbname"] = database }
        params["application_name"] = applicationName
        if let password = spec.password { params["password"] = password }
        let keys = Array(params.keys)
        let cKeys = keys.map { strdup($0) }
        let cValues = keys.map { strdup(params[$0]!) }
        defer { for pointer in cKeys + cValues { free(pointer) } }
        var keyPtrs: [UnsafePointer<CChar>?] = cKeys.map { UnsafePointer($0) } + [nil]
        var valPtrs: [UnsafePointer<CChar>?] = cValues.map { UnsafePointer($0) } + [nil]
        let c = keyPtrs.withUnsafeMutableBufferPointer { k in
            valPtrs.withUnsafeMutableBufferPointer { v in
                PQconnectdbParams(k.baseAddress, v.baseAddress, 0)
            }
        }
        guard let c else {
            throw PGKeepError(
                .preflight, "cannot connect to \(spec.displayURI(database: database)): libpq is out of memory")
        }
        if PQstatus(c) != CONNECTION_OK {
            let raw = String(cString: PQerrorMessage(c))
            // Name the server as libpq resolved it (PG* variables and defaults applied).
            var target = spec
            for (key, value) in [("host", PQhost(c)), ("port", PQport(c)), ("user", PQuser(c)), ("dbname", PQdb(c))] {
                if let value, value.pointee != 0 { target.parameters[key] = String(cString: value) }
            }
            PQfinish(c)
            throw PostgresConnection.describe(connectionError: raw, target: target)
        }
        conn = c
        // Where the server has it (14+), it also checks now and then during a long query that
        // the client is still there.
        if PQserverVersion(c) >= 140_000 && SessionBounds.current.serverOptions {
            PQclear(PQexec(c, "SET client_connection_check_interval = '10s'"))
        }
    }

    deinit { PQfinish(conn) }

    /// Turns libpq's multi-line message into one line that names the problem and the fix.
    static func describe(connectionError raw: String, target: ConnectionSpec) -> PGKeepError {
        let uri = target.displayURI()
        let lines = raw.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let detail =
            lines.first(where: { $0.contains("FATAL:") || $0.contains("could not") || $0.contains("timeout") })
            ?? lines.first ?? "unknown error"
        let clean = detail.replacingOccurrences(of: "FATAL:  ", with: "").replacingOccurrences(of: "FATAL: ", with: "")
        let message: String
        if raw.contains("password authentication failed") {
            message =
                "cannot connect to \(uri): password authentication failed for user \"\(target.user ?? "")\"; "
                + "check the password (in the URI, PGPASSWORD or ~/.pgpass)"
        } else if raw.contains("no password supplied") || raw.contains("fe_sendauth") {
            message =
                "cannot connect to \(uri): the server asks for a password and none was given; put it in ~/.pgpass, "
                + "PGPASSWORD or the URI"
        } else if raw.contains("could not translate host name") || raw.contains("Name or service not known") {
            message = "cannot connect to \(uri): unknown host \"\(target.host ?? "")\"; check --host or the URI"
        } else if raw.contains("Connection refused") {
            message =
                "cannot connect to \(uri): connection refused; is PostgreSQL running and listening on that host and "
                + "port?"
        } else if raw.contains("No such file or directory") && raw.contains("socket") {
            message =
                "cannot connect to \(uri): no server socket found; is PostgreSQL running, or should --host name a TCP "
                + "host?"
        } else if raw.contains("does not exist") && raw.contains("database") {
            message =
                "cannot connect to \(uri): database \"\(target.database ?? "")\" does not exist; "
                + "check --dbname (psql -l lists the databases)"
        } else if raw.contains("timeout expired") {
            message = "cannot connect to \(uri): timed out; check the host, the port and any firewall"
        } else {
            message = "cannot connect to \(uri): \(clean)"
        }
        return PGKeepError(.preflight, ConnectionSpec.maskSecrets(in: message))
    }

    public func serverInfo() throws -> ServerInfo {
        let num = Int(PQserverVersion(conn))
        let version = PQparameterStatus(conn, "server_version").map { String(cString: $0) } ?? "\(num)"
        return ServerInfo(
            versionNumber: num, version: version,
            database: String(cString: PQdb(conn)), user: String(cString: PQuser(conn)))
    }

    /// Runs a query without parameters and returns its rows as text (NULL as nil).
    public func query(_ sql: String) throws -> [[String?]] {
        guard let res = PQexec(conn, sql) else {
            throw PGKeepError(.preflight, "query failed: \(String(cString: PQerrorMessage(conn)))")
        }
        defer { PQclear(res) }
        let status = PQresultStatus(res)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            throw PGKeepError(
                .preflight,
                "query failed: "
                    + String(cString: PQresultErrorMessage(res)).trimmingCharacters(in: .whitespacesAndNewlines),
                command: sql)
        }
        var rows: [[String?]] = []
        for r in 0..<PQntuples(res) {
            var row: [String?] = []
            for c in 0..<PQnfields(res) {
                row.append(PQgetisnull(res, r, c) != 0 ? nil : String(cString: PQgetvalue(res, r, c)))
            }
            rows.append(row)
        }
        return rows
    }

    /// Databases that accept connections, templates excluded (for --all).
    public func connectableDatabases() throws -> [String] {
        try query(SQL.connectableDatabases)
            .compactMap { $0[0] }
    }
}
