import Foundation

/// What a copy or compare asks of the place its database is: SQL sessions and the data workers'
/// ends. On this machine they are libpq sessions in this process; in a docker compose service,
/// psql sessions held open there and a psql per table (`ComposeCopyEnd`).
extension LocalRestoreEndpoint {
    public func session(database: String) throws -> any SQLSession {
        try PostgresConnection(spec: spec, database: database)
    }

    public func copySources(database: String, count: Int, snapshot: String) throws -> [any CopySourceEnd] {
        var shared: String? = snapshot
        return try (0..<max(1, count)).map { _ in
            let connection = try PostgresConnection(spec: spec, database: database)
            try SnapshotSession.begin(connection, snapshot: &shared)
            return connection
        }
    }

    public func copyTargets(database: String, count: Int) throws -> [any CopyTargetEnd] {
        try (0..<count).map { _ in
            let connection = try PostgresConnection(spec: spec, database: database)
            for sql in CopyCatalog.stableOutput {
                try connection.execute(sql, what: "setting up the target session")
            }
            return connection
        }
    }
}

extension DockerComposeRestoreEndpoint {
    public func session(database: String) throws -> any SQLSession {
        try PsqlSession(service: service, database: database)
    }

    public func copySources(database: String, count: Int, snapshot: String) throws -> [any CopySourceEnd] {
        (0..<count).map { _ in ComposeCopyEnd(service: service, database: database, snapshot: snapshot) }
    }

    public func copyTargets(database: String, count: Int) throws -> [any CopyTargetEnd] {
        (0..<count).map { _ in ComposeCopyEnd(service: service, database: database, snapshot: nil) }
    }
}

/// A read-only REPEATABLE READ session on one snapshot, with the stable output settings.
enum SnapshotSession {
    /// Begins the transaction in `snapshot`, or, when it is nil, exports one and sets it.
    static func begin(_ session: any SQLSession, snapshot: inout String?) throws {
        try session.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", what: "starting a transaction")
        if let snapshot {
            try session.execute("SET TRANSACTION SNAPSHOT \(SQL.literal(snapshot))", what: "importing the snapshot")
        } else {
            snapshot = try session.query("SELECT pg_catalog.pg_export_snapshot()").first?[0] ?? nil
        }
        for sql in CopyCatalog.stableOutput { try session.execute(sql, what: "setting up the session") }
    }
}
