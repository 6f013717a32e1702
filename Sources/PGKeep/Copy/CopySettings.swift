import Foundation

/// One database to copy: its name on the source and on the target.
public struct CopyPair: Sendable, Equatable {
    public var source: String
    public var target: String

    public init(source: String, target: String) {
        self.source = source
        self.target = target
    }
}

extension Settings {
    /// A side of copy or compare: a URI or conninfo string names a server (and maybe a database);
    /// a bare name is a database on the server the connection options, PG* variables, config and
    /// POSTGRESQL_URI name, as for backup. Passwords are registered for redaction.
    public func copySide(_ text: String, flag: String, connection flags: ConnectionFlags) throws -> ConnectionSpec {
        if ConnectionSpec.isConnectionString(text) { return try server(uri: text, flag: flag) }
        var named = flags
        named.dbname = text.isEmpty ? flags.dbname : text
        return try connection(named)
    }

    /// The databases a copy moves: `--database` names (same name on the target unless `--to`
    /// names one and only one is copied), `--all` (every connectable database but the maintenance
    /// database `postgres`), else the database `--from` names into the one `--to` names (its own
    /// name when `--to` names none).
    public static func copyPairs(
        from: ConnectionSpec, to: ConnectionSpec, databases: [String], all: [String]?
    ) throws -> [CopyPair] {
        if let all {
            return all.filter { $0 != "postgres" }.map { CopyPair(source: $0, target: $0) }
        }
        if !databases.isEmpty {
            if databases.count == 1, let renamed = to.database {
                return [CopyPair(source: databases[0], target: renamed)]
            }
            if let named = to.database, databases.count > 1 {
                throw PGKeepError(
                    .usage, "--to names database \"\(named)\" but \(databases.count) databases are copied",
                    hint: "leave the database out of --to: each database keeps its name")
            }
            return databases.map { CopyPair(source: $0, target: $0) }
        }
        guard let database = from.database else {
            throw PGKeepError(
                .usage, "name the database to copy: in --from (postgresql://host/NAME), with --database, or --all")
        }
        return [CopyPair(source: database, target: to.database ?? database)]
    }
}

/// `--all`: the roles and tablespaces (`pg_dumpall --globals-only`) applied on the target with
/// psql. Roles the target already has fail with "already exists" and are left as they are;
/// any other error fails the copy.
public struct GlobalsCopy {
    public static func run(source: DatabaseSide, target: DatabaseSide) throws -> (statements: Int, existing: Int) {
        let script = try source.run(
            "pg_dumpall", database: source.database, arguments: ["--globals-only"],
            what: "pg_dumpall --globals-only of the source")
        let scratch = try makeScratchDirectory()
        defer { FileSystem.removeTree(scratch) }
        let path = scratch + "/globals.sql"
        try FileSystem.writePrivateFile(path, data: script)
        let command = try target.endpoint.tool("psql", database: target.database, arguments: ["-X", "-q", "--file=-"])
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PGKeepError(.backup, "cannot open \(path): \(errnoText())") }
        defer { close(fd) }
        let (_, result) = try ChildProcess.capture(command, stdin: .fileDescriptor(fd))
        let errors = result.stderr.split(separator: "\n").filter { $0.contains("ERROR:") }
        let unexpected = errors.filter { !$0.contains("already exists") }
        guard result.succeeded, unexpected.isEmpty else {
            throw PGKeepError(
                .backup, "applying the source's roles and tablespaces on the target failed",
                command: result.command.description, stderrTail: unexpected.prefix(5).joined(separator: "\n"))
        }
        let statements = String(decoding: script, as: UTF8.self).split(separator: "\n").filter {
            $0.hasSuffix(";") && !$0.hasPrefix("SET ") && !$0.hasPrefix("--")
        }.count
        return (statements, errors.count)
    }
}
