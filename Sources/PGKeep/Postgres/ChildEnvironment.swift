import Foundation

/// The environment pg_dump, pg_restore and psql get. When the password came in a URI or
/// conninfo string it is written to a private 0600 passfile in a 0700 directory and the child
/// gets PGPASSFILE; it never appears in argv. Variables that may carry a URI with a password
/// (POSTGRESQL_URI, DATABASE_URL) are not passed on.
///
/// Children connect with application_name `pgkeep-PID-TAG`, so that on SIGINT/SIGTERM, after the
/// children are stopped, pgkeep can end their server backends too: a pg_dump killed while its
/// backend waits for a lock would otherwise leave that backend in pg_stat_activity until the lock
/// is granted.
public final class ChildEnvironment {
    public let environment: [String: String]
    private let directory: String?
    private var cancelToken: Int?
    private var backendsToken: Int?

    /// Six random characters (a-z, 0-9) of this process: with the pid, its name on a server.
    static let processTag = String((0..<6).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement()! })

    /// The application_name of every session and child of this process: `pgkeep-PID-TAG`. The pid
    /// alone is not unique where pgkeep runs in containers (every container's pgkeep is PID 1, a
    /// daemon's run a small pid), and the cleanup ends the backends of this name: without the tag,
    /// one container's cleanup could end another's sessions on a shared server.
    public static let applicationName = applicationName(pid: String(getpid()), tag: processTag)

    /// `pgkeep-PID-TAG`: the one shape of pgkeep's application names (a compose sweep rebuilds a
    /// dead run's from its markers).
    static func applicationName(pid: some StringProtocol, tag: some StringProtocol) -> String {
        "pgkeep-\(pid)-\(tag)"
    }

    public init(spec: ConnectionSpec, base: [String: String] = ProcessInfo.processInfo.environment) throws {
        var env = base
        env["POSTGRESQL_URI"] = nil
        env["DATABASE_URL"] = nil
        env["PGAPPNAME"] = Self.applicationName
        backendsToken = Cancellation.shared.register(cleanup: { Self.terminateBackends(spec: spec) }, stage: .backends)
        if let password = spec.password {
            let template = (NSTemporaryDirectory() as NSString).appendingPathComponent("pgkeep-pass.XXXXXX")
            var buf = Array(template.utf8CString)
            guard let made = mkdtemp(&buf) else {
                throw PGKeepError(
                    .preflight, "cannot create a private temporary directory for the passfile: \(errnoText())")
            }
            let dir = String(cString: made)
            _ = chmod(dir, 0o700)
            directory = dir
            let escaped = password.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(
                of: ":", with: "\\:")
            let path = (dir as NSString).appendingPathComponent("pgpass")
            try FileSystem.writePrivateFile(path, data: Data("*:*:*:*:\(escaped)\n".utf8))
            env["PGPASSFILE"] = path
            // PGPASSWORD would win over the passfile; the explicit password must win instead.
            env["PGPASSWORD"] = nil
            cancelToken = Cancellation.shared.register(path: dir)
        } else {
            directory = nil
        }
        environment = env
    }

    /// Ends the server backends of this process's children and sessions (best effort, a few
    /// seconds at most). When the server cannot be reached, the closing message says which
    /// sessions may still hold locks, and until when.
    static func terminateBackends(spec: ConnectionSpec) {
        var quick = spec
        quick.parameters["connect_timeout"] = "3"
        let sql = """
            SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity
            WHERE application_name = \(SQL.literal(applicationName)) AND pid <> pg_catalog.pg_backend_pid()
            """
        var failure = "no database to connect to"
        for database in [spec.database, "postgres", "template1"] {
            do {
                _ = try PostgresConnection(spec: quick, database: database).query(sql)
                return
            } catch {
                failure = (error as? PGKeepError)?.message ?? "\(error)"
                // Only a missing database is worth another try; an unreachable server stays so.
                if !failure.contains("does not exist") { break }
            }
        }
        let bounds = SessionBounds.current
        let dead = bounds.keepalivesIdle + bounds.keepalivesInterval * bounds.keepalivesCount
        Cancellation.shared.note(
            "the server could not be reached to end pgkeep's sessions (\(failure)): sessions with application_name "
                + "\(applicationName) may still hold locks until the server notices the connection is gone "
                + "(about \(dead) s with pgkeep's keepalives)")
    }

    /// Removes the passfile. Also done by Ctrl-C handling; calling twice is harmless.
    public func remove() {
        if let token = backendsToken {
            Cancellation.shared.unregister(token)
            backendsToken = nil
        }
        if let directory { FileSystem.removeTree(directory) }
        if let token = cancelToken {
            Cancellation.shared.unregister(token)
            cancelToken = nil
        }
    }

    deinit { remove() }
}
