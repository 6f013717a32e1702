import Foundation

/// A session in a docker compose service: one psql held open with `exec -T`, fed statements on
/// stdin, each followed by `\echo TOKEN :ERROR ...` so its rows (unaligned, unit- and
/// record-separated) end at a line no data can forge, with psql's own error variables (PostgreSQL
/// 11 and newer). It keeps a transaction open as long as pgkeep needs it: the copy's snapshot.
// `pending` is a Locked, held for a whole query; the rest is set in init. A session is used by one
// thread at a time, like a libpq connection.
public final class PsqlSession: SQLSession, @unchecked Sendable {
    private static let (field, record, null) = ("\u{1F}", "\u{1E}", "\u{1D}")
    /// Unaligned rows, fields split by US, records by RS, NULL as GS: what `rows` reads.
    static let outputOptions = [
        "-X", "-q", "--no-align", "--tuples-only", "--field-separator=" + field, "--record-separator=" + record,
        "--pset=null=" + null,
    ]
    private let child: ChildProcess
    private let service: String
    private let database: String
    private let token = "pgkeep-" + UUID().uuidString
    /// What psql wrote after the last answer read.
    private let pending = Locked(Data())

    init(service: DockerComposeService, database: String) throws {
        self.service = service.name
        self.database = database
        child = ChildProcess(
            try service.tool("psql", database: database, arguments: Self.outputOptions), stdin: .pipe, stdout: .pipe)
        try child.start()
        do { _ = try query("SELECT 1") } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    /// Ends psql (its transaction, if any, rolls back).
    public func close() {
        child.closeStdin()
        if !child.waitForExit(timeout: 5) { child.terminate() }
        _ = child.wait()
    }

    public func query(_ sql: String) throws -> [[String?]] {
        try pending.withLock { try query(sql, pending: &$0) }
    }

    private func query(_ sql: String, pending: inout Data) throws -> [[String?]] {
        var statement = sql.trimmingCharacters(in: .whitespacesAndNewlines)
        while statement.hasSuffix(";") { statement.removeLast() }
        let script = statement + ";\n\\echo \(token) :ERROR :LAST_ERROR_MESSAGE\n"
        let sent = Data(script.utf8).withUnsafeBytes { FileSystem.writeUntilClosed(child.stdinDescriptor, $0) }
        guard sent, let (rows, marker) = readAnswer(&pending) else {
            let result = child.wait()
            throw result.failure(
                "psql in docker compose service \"\(service)\", database \"\(database)\" ended", kind: .preflight)
        }
        if marker.hasPrefix("true") {
            let message = String(marker.dropFirst(5))
            throw PGKeepError(
                .backup,
                "query in docker compose service \"\(service)\", database \"\(database)\" failed: "
                    + ConnectionSpec.maskSecrets(in: message),
                command: String(statement.prefix(300)))
        }
        return rows
    }

    public func execute(_ sql: String, what: String) throws {
        do { _ = try query(sql) } catch let error as PGKeepError {
            throw PGKeepError(
                error.kind, "\(what) failed: " + error.message, command: error.command, hint: error.hint)
        }
    }

    /// Reads to the marker line: the rows before it and what follows the token on it.
    private func readAnswer(_ pending: inout Data) -> ([[String?]], String)? {
        let tokenBytes = Data(token.utf8)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            if let range = pending.range(of: tokenBytes),
                range.lowerBound == pending.startIndex || pending[range.lowerBound - 1] == UInt8(ascii: "\n"),
                let end = pending[range.upperBound...].firstIndex(of: UInt8(ascii: "\n"))
            {
                var text = String(decoding: pending[pending.startIndex..<range.lowerBound], as: UTF8.self)
                let marker = String(decoding: pending[(range.upperBound + 1)..<end], as: UTF8.self)
                pending = Data(pending[(end + 1)...])
                if text.hasSuffix("\n") { text.removeLast() }
                return (Self.rows(text), marker)
            }
            let n = buffer.withUnsafeMutableBytes { read(child.stdoutDescriptor, $0.baseAddress, $0.count) }
            if n > 0 {
                pending.append(contentsOf: buffer[0..<n])
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return nil
            }
        }
    }

    /// Unaligned output: records split at the record separator, fields at the unit separator.
    /// (A single row of one empty string reads as no row.)
    static func rows(_ text: String) -> [[String?]] {
        guard !text.isEmpty else { return [] }
        return text.split(separator: Character(record), omittingEmptySubsequences: false).map { line in
            line.split(separator: Character(field), omittingEmptySubsequences: false).map {
                $0 == null ? nil : String($0)
            }
        }
    }
}

/// A copy's data worker in a docker compose service: one psql child per table. On a source it
/// imports the copy's snapshot and writes `COPY ... TO STDOUT` to its stdout; on a target it
/// empties the table and runs `COPY ... FROM STDIN` from its stdin in one transaction, stopping at
/// the first error (ON_ERROR_STOP).
// Immutable after init; each unload or load starts its own psql.
public final class ComposeCopyEnd: CopySourceEnd, CopyTargetEnd, @unchecked Sendable {
    let service: DockerComposeService
    let database: String
    let snapshot: String?

    init(service: DockerComposeService, database: String, snapshot: String?) {
        self.service = service
        self.database = database
        self.snapshot = snapshot
    }

    private func psql(_ statements: [String]) throws -> Command {
        try service.tool(
            "psql", database: database,
            arguments: ["-X", "-q", "-v", "ON_ERROR_STOP=1"] + statements.flatMap { ["-c", $0] })
    }

    public func unload(_ sql: String, _ each: (UnsafeRawBufferPointer) throws -> Void) throws {
        let statements =
            ["BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"]
            + (snapshot.map { ["SET TRANSACTION SNAPSHOT \(SQL.literal($0))"] } ?? []) + CopyCatalog.stableOutput + [
                sql
            ]
        let child = ChildProcess(try psql(statements), stdout: .pipe)
        try child.start()
        var failure: Error?
        FileSystem.readChunks(child.stdoutDescriptor) { chunk in
            do { try each(chunk) } catch { failure = error }
            return failure == nil
        }
        if let failure {
            child.terminate()
            _ = child.wait()
            throw failure
        }
        let result = child.wait()
        guard result.succeeded else {
            throw result.failure("COPY TO in docker compose service \"\(service.name)\" (\(sql))")
        }
    }

    public func load(
        table: String, _ sql: String, _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void
    ) throws -> Int {
        let child = ChildProcess(
            try psql(CopyCatalog.stableOutput + ["BEGIN", "TRUNCATE ONLY \(table)", sql, "COMMIT"]), stdin: .pipe)
        try child.start()
        var rows = 0
        do {
            try produce { chunk in
                rows += Self.lines(in: chunk)
                guard FileSystem.writeUntilClosed(child.stdinDescriptor, chunk) else {
                    throw child.wait().failure("loading \(table) in docker compose service \"\(service.name)\"")
                }
            }
        } catch {
            child.terminate()
            _ = child.wait()
            throw error
        }
        child.closeStdin()
        let result = child.wait()
        guard result.succeeded else {
            throw result.failure("loading \(table) in docker compose service \"\(service.name)\"")
        }
        return rows
    }

    /// The rows in a slice of COPY text: its newlines (text format escapes those inside values).
    static func lines(in chunk: UnsafeRawBufferPointer) -> Int {
        guard var p = chunk.baseAddress else { return 0 }
        let end = p + chunk.count
        var count = 0
        while p < end, let hit = memchr(p, 10, end - p) {
            count += 1
            p = UnsafeRawPointer(hit) + 1
        }
        return count
    }
}
