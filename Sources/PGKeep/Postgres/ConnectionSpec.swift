import CLibPQ
import Foundation

/// Where to connect: libpq keywords and values, with the password kept apart so that it can
/// only ever reach a child through a private passfile or the child's environment.
///
/// URIs and `key=value` strings are parsed by libpq itself (`PQconninfoParse`), so pgkeep
/// accepts exactly what psql and pg_dump accept.
public struct ConnectionSpec: Sendable, Equatable {
    /// libpq keywords (host, port, user, dbname, sslmode, ...) without the password.
    public var parameters: [String: String]
    /// The password given in the URI or conninfo string, if any. PGPASSWORD and ~/.pgpass are
    /// left to libpq and the children, which read them themselves.
    public var password: String?
    /// Sessions on this connection write (a restore's target, a copy's): a role's
    /// `default_transaction_read_only` is turned off for them (`SessionBounds`).
    public var writes = false

    public init(parameters: [String: String] = [:], password: String? = nil) {
        self.parameters = parameters
        self.password = password
    }

    /// The same connection, for sessions that write.
    public func writing() -> ConnectionSpec {
        var spec = self
        spec.writes = true
        return spec
    }

    /// Environment variables that, when set, mean the user chose a server through libpq's own
    /// variables, so POSTGRESQL_URI and DATABASE_URL are not consulted.
    static let libpqSelectors = ["PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGDATABASE", "PGSERVICE"]

    /// Secrets libpq accepts in a connection string that pgkeep will not pass on argv.
    static let refusedSecrets = ["sslpassword"]

    /// Builds the connection from the flags, then PG* variables (applied later by libpq and the
    /// children), then POSTGRESQL_URI or DATABASE_URL when nothing else names a server. A bare
    /// database name in --dbname names no server: with such a URI in the environment, the URI
    /// gives the server and --dbname the database (`--dbname shop_copy` restores next to it).
    ///
    /// `configured` is the config file's connection: it stands below the flags and the PG*
    /// variables (a field that PGHOST, PGPORT, PGUSER, PGDATABASE or PGPASSWORD also sets is left
    /// to the variable) and above POSTGRESQL_URI and DATABASE_URL.
    public static func resolve(
        dbname: String?, host: String?, port: String?, username: String?,
        environment: [String: String], configured: ConnectionSpec? = nil
    ) throws -> ConnectionSpec {
        var spec = ConnectionSpec()
        let given = (dbname?.isEmpty ?? true) ? nil : dbname
        if let given, isConnectionString(given) {
            spec = try parse(given, source: "--dbname")
        } else if var base = configured {
            for (key, variable) in [
                ("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"), ("dbname", "PGDATABASE"),
            ]
            where environment[variable] != nil {
                base.parameters[key] = nil
            }
            if environment["PGPASSWORD"] != nil { base.password = nil }
            spec = base
            if let given { spec.parameters["dbname"] = given }
        } else {
            if host == nil && port == nil && username == nil
                && !libpqSelectors.contains(where: { environment[$0] != nil })
            {
                if let uri = environment["POSTGRESQL_URI"], !uri.isEmpty {
                    spec = try parse(uri, source: "POSTGRESQL_URI")
                } else if let uri = environment["DATABASE_URL"], !uri.isEmpty {
                    spec = try parse(uri, source: "DATABASE_URL")
                }
            }
            if let given { spec.parameters["dbname"] = given }
        }
        if let host { spec.parameters["host"] = host }
        if let port { spec.parameters["port"] = port }
        if let username { spec.parameters["user"] = username }
        return spec
    }

    /// True when `text` is a connection string rather than a bare database name (pg_dump's rule).
    public static func isConnectionString(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://") || text.contains("=")
    }

    /// Parses a URI, a `key=value` string, or a bare database name.
    public static func parse(_ text: String, source: String) throws -> ConnectionSpec {
        guard isConnectionString(text) else {
            return ConnectionSpec(parameters: ["dbname": text])
        }
        var errmsg: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(text, &errmsg) else {
            let reason =
                errmsg.map { String(cString: $0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "unknown error"
            if let errmsg { PQfreemem(errmsg) }
            // libpq's message quotes the offending part, which may hold the password: mask it.
            let masked = ConnectionSpec.maskSecrets(in: reason)
            throw PGKeepError(
                .usage, "invalid connection string in \(source): \(masked)",
                hint: "use postgresql://user@host:port/dbname or 'host=... dbname=...'")
        }
        defer { PQconninfoFree(options) }
        var spec = ConnectionSpec()
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val {
                let key = String(cString: keyword)
                let val = String(cString: value)
                if key == "password" {
                    spec.password = val
                } else if refusedSecrets.contains(key) {
                    throw PGKeepError(
                        .usage, "\(source) contains \(key), which pgkeep will not pass to pg_dump on its command line",
                        hint:
                            "use a client key without a passphrase, or run pgkeep where libpq can read it from its "
                            + "default location"
                    )
                } else {
                    spec.parameters[key] = val
                }
            }
            option += 1
        }
        return spec
    }

    public var host: String? { parameters["host"] }
    public var port: String? { parameters["port"] }
    public var user: String? { parameters["user"] }
    public var database: String? { parameters["dbname"] }

    /// A `key='value'` conninfo string for children's `--dbname`, with the `SessionBounds` in
    /// force added; it never holds the password.
    public func conninfo(overridingDatabase database: String? = nil) -> String {
        var params = SessionBounds.current.apply(to: parameters, own: false, writes: writes)
        if let database { params["dbname"] = database }
        return params.keys.sorted().map { key in
            let value = params[key]!
                .replacingOccurrences(of: "\\", with: "\\\\")
                .replacingOccurrences(of: "'", with: "\\'")
            return "\(key)='\(value)'"
        }.joined(separator: " ")
    }

    /// A URI for messages: the password, when there is one, shows as ****.
    public func displayURI(database override: String? = nil) -> String {
        func enc(_ s: String) -> String {
            s.addingPercentEncoding(
                withAllowedCharacters: .urlUserAllowed.subtracting(CharacterSet(charactersIn: ":@/"))) ?? s
        }
        var uri = "postgresql://"
        if let user {
            uri += enc(user)
            if password != nil { uri += ":****" }
            uri += "@"
        } else if password != nil {
            uri += ":****@"
        }
        if let host {
            uri += host.hasPrefix("/") ? enc(host) : (host.contains(":") && !host.contains(",") ? "[\(host)]" : host)
        }
        if let port { uri += ":\(port)" }
        if let db = override ?? database { uri += "/" + enc(db) }
        let extras = parameters.keys.sorted().filter { !["host", "port", "user", "dbname"].contains($0) }
        if !extras.isEmpty {
            uri += "?" + extras.map { "\($0)=\(enc(parameters[$0]!))" }.joined(separator: "&")
        }
        return uri
    }

    /// Masks anything that looks like a password in free text: `user:secret@` in URIs and
    /// `password=secret` in conninfo strings.
    public static func maskSecrets(in text: String) -> String {
        var out = text
        if let regex = try? NSRegularExpression(pattern: "(://[^:/@\\s]*:)([^@\\s]*)(@)") {
            out = regex.stringByReplacingMatches(
                in: out, range: NSRange(out.startIndex..., in: out), withTemplate: "$1****$3")
        }
        if let regex = try? NSRegularExpression(
            pattern: "((?:ssl)?password\\s*=\\s*)('(?:[^'\\\\]|\\\\.)*'|\\S+)", options: [.caseInsensitive])
        {
            out = regex.stringByReplacingMatches(
                in: out, range: NSRange(out.startIndex..., in: out), withTemplate: "$1****")
        }
        return out
    }
}
