import Foundation

/// Where a restore runs its tools and queries: on this machine (libpq, local pg_restore/psql) or
/// inside a docker compose service (`exec -T`, the container's own pg_restore/psql).
public protocol RestoreEndpoint: AnyObject {
    /// For messages: the target as a URI or a service.
    func describe(database: String) -> String
    /// Runs SQL in `database` and returns its rows as text.
    func query(_ sql: String, database: String) throws -> [[String?]]
    /// A client tool (pg_restore, psql) with these arguments, connected to `database` when given.
    func tool(_ name: String, database: String?, arguments: [String]) throws -> Command
    /// Makes `input` readable by the endpoint's tools: returns the path they should read (for
    /// compressed inputs, the decompressed archive) or nil when the input is streamed from here.
    func stage(_ input: RestoreInput, needsFile: Bool) throws -> String?
    /// Removes whatever `stage` put in place.
    func cleanUp()
    /// A watch on the server for pgkeep's sessions in `database` (nil where none can be kept).
    func serverWatch(database: String) -> ServerWatch?
    /// The tools run on this machine, so a backup can be streamed into them while it downloads.
    var runsHere: Bool { get }
    /// Puts a small file (the `--table` use-list) where the tools read it; returns its path
    /// there. `cleanUp` removes it.
    func put(_ data: Data, name: String) throws -> String
    /// A SQL session in `database` (`Copy/CopyEnds.swift`).
    func session(database: String) throws -> any SQLSession
    /// A copy's data workers: sources reading in `snapshot`, targets loading into `database`.
    func copySources(database: String, count: Int, snapshot: String) throws -> [any CopySourceEnd]
    func copyTargets(database: String, count: Int) throws -> [any CopyTargetEnd]
}

extension RestoreEndpoint {
    public func serverWatch(database: String) -> ServerWatch? { nil }
    public var runsHere: Bool { false }
}

/// pg_restore and psql on this machine; queries through libpq.
public final class LocalRestoreEndpoint: RestoreEndpoint {
    let spec: ConnectionSpec
    let tools: PostgresTools
    let env: ChildEnvironment
    private var scratch: String?

    public init(spec: ConnectionSpec, tools: PostgresTools, environment: [String: String]) throws {
        self.spec = spec
        self.tools = tools
        self.env = try ChildEnvironment(spec: spec, base: environment)
    }

    public func describe(database: String) -> String { spec.displayURI(database: database) }

    public func query(_ sql: String, database: String) throws -> [[String?]] {
        try PostgresConnection(spec: spec, database: database).query(sql)
    }

    public func tool(_ name: String, database: String?, arguments: [String]) throws -> Command {
        let connect = database.map { ["--dbname=" + spec.conninfo(overridingDatabase: $0), "--no-password"] } ?? []
        return Command(
            executable: try tools.path(of: name), arguments: connect + arguments, environment: env.environment)
    }

    public func stage(_ input: RestoreInput, needsFile: Bool) throws -> String? {
        guard input.kind.codec != nil else { return input.path }
        guard needsFile else { return nil }
        // Parallel restore needs a seekable file: decompress into a private scratch file.
        let dir = try makeScratchDirectory()
        scratch = dir
        let path = dir + "/archive"
        let out = try FileSystem.createPrivateFile(path)
        defer { close(out) }
        try input.decompress {
            try FileSystem.writeAll(out, $0, path: path)
            return true
        }
        return path
    }

    public func serverWatch(database: String) -> ServerWatch? { ServerWatch(spec: spec, database: database) }
    public var runsHere: Bool { true }

    public func put(_ data: Data, name: String) throws -> String {
        let dir = try makeScratchDirectory()
        files.append(dir)
        let path = dir + "/" + name
        try FileSystem.writePrivateFile(path, data: data)
        return path
    }

    private var files: [String] = []

    public func cleanUp() {
        files.forEach(FileSystem.removeTree)
        files = []
        if let scratch { FileSystem.removeTree(scratch) }
        scratch = nil
        env.remove()
    }
}
