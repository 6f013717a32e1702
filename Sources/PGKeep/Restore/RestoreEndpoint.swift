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
    /// gzip inputs, the decompressed archive) or nil when the input is streamed from here.
    func stage(_ input: RestoreInput, needsFile: Bool) throws -> String?
    /// Removes whatever `stage` put in place.
    func cleanUp()
}

/// SQL quoting for standard_conforming_strings = on (the default since PostgreSQL 9.1).
public enum SQL {
    public static func literal(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }
    public static func identifier(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
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
        return Command(executable: try tools.path(of: name), arguments: connect + arguments, environment: env.environment)
    }

    public func stage(_ input: RestoreInput, needsFile: Bool) throws -> String? {
        guard input.kind.isGzip else { return input.path }
        guard needsFile else { return nil }
        // Parallel restore needs a seekable file: decompress into a private scratch file.
        let dir = try makeScratchDirectory()
        scratch = dir
        let path = dir + "/archive"
        let out = try FileSystem.createPrivateFile(path)
        defer { close(out) }
        try input.decompress { try FileSystem.writeAll(out, $0, path: path); return true }
        return path
    }

    public func cleanUp() {
        if let scratch { FileSystem.removeTree(scratch) }
        scratch = nil
        env.remove()
    }
}

/// A private 0700 scratch directory, removed on Ctrl-C too.
func makeScratchDirectory() throws -> String {
    let template = (NSTemporaryDirectory() as NSString).appendingPathComponent("pgkeep-restore.XXXXXX")
    var buf = Array(template.utf8CString)
    guard let made = mkdtemp(&buf) else { throw PGKeepError(.backup, "cannot create a scratch directory: \(errnoText())") }
    let dir = String(cString: made)
    _ = Cancellation.shared.register(path: dir)
    return dir
}

extension RestoreInput {
    /// Hands the decompressed content of a gzip input to `body`, chunk by chunk, while it
    /// returns true.
    func decompress(_ body: (UnsafeRawBufferPointer) throws -> Bool) throws {
        if let stream { return try decompressStream(stream, body) }
        let fd = Foundation.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PGKeepError(.backup, "cannot open \(path): \(errnoText())") }
        defer { close(fd) }
        _ = try GzipReader.decompress(fd: fd, path: path, consume: body)
    }

    /// A streamed input: decompressed as it arrives, hashed on the way, and at its end checked
    /// against the manifest. The caller must not let the restore commit before this returns.
    private func decompressStream(_ command: Command, _ body: (UnsafeRawBufferPointer) throws -> Bool) throws {
        let child = ChildProcess(command, stdout: .pipe)
        try child.start()
        let r: GzipReader.Result
        do {
            // Every byte is read (and hashed) even after `body` has what it needs.
            r = try GzipReader.decompress(fd: child.stdoutDescriptor, path: origin, consume: body)
        } catch {
            child.closeStdout()
            child.terminate(grace: 1)
            child.wait()
            if let e = error as? PGKeepError { throw refusal(e.message) }
            throw error
        }
        let result = child.wait()
        guard result.succeeded else {
            throw result.failure("downloading \(origin) failed; the restore was rolled back", hint: "check the remote and try again")
        }
        if let manifest, r.sha256 != manifest.sha256 || r.compressedBytes != manifest.size {
            throw refusal("\(origin) does not match its manifest: \(r.compressedBytes) bytes with sha256 \(r.sha256.prefix(12))…, expected \(manifest.size) bytes with sha256 \(manifest.sha256.prefix(12))…")
        }
    }
}
