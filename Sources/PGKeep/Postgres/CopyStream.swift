import CLibPQ
import CPGKeep
import Foundation

/// COPY through libpq in this process: `COPY ... TO STDOUT` read row by row with PQgetCopyData
/// (`unload`), rows sent with PQputCopyData into `COPY ... FROM STDIN` (`load`). A copy nests the
/// two, so nothing is buffered beyond a row and libpq's own send buffer, and memory stays flat
/// whatever the table's size.
extension PostgresConnection: SQLSession, CopySourceEnd, CopyTargetEnd {
    /// Runs `sql` (no rows expected) or throws naming `what`.
    public func execute(_ sql: String, what: String) throws {
        guard let res = PQexec(conn, sql) else { throw failure(what, sql: sql) }
        defer { PQclear(res) }
        let status = PQresultStatus(res)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            throw failure(what, sql: sql, result: res)
        }
    }

    /// Runs `sql` (a COPY TO STDOUT) and hands each row to `each`; a failure in `each` cancels
    /// the COPY on the server before it is rethrown.
    public func unload(_ sql: String, _ each: (UnsafeRawBufferPointer) throws -> Void) throws {
        try startCopy(sql, expect: PGRES_COPY_OUT, what: "COPY TO on the source")
        var buffer: UnsafeMutablePointer<CChar>?
        while true {
            let n = PQgetCopyData(conn, &buffer, 0)
            if n > 0, let row = buffer {
                defer { PQfreemem(row) }
                buffer = nil
                do { try each(UnsafeRawBufferPointer(start: row, count: Int(n))) } catch {
                    cancelRunningQuery()
                    throw error
                }
                continue
            }
            if n == -1 { break }
            // -2: the source failed (connection lost, server stopped).
            throw failure("reading rows from the source", sql: sql)
        }
        let result = finishCopyResult()
        guard result.ok else { throw failure("reading rows from the source", sql: sql, text: result.message) }
    }

    /// Empties `table` and loads it with `sql` (a COPY FROM STDIN) from what `produce` sends, in
    /// one transaction; a failure in `produce` ends the COPY with an error, so nothing is loaded.
    /// Returns the rows the server reports.
    public func load(
        table: String, _ sql: String, _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void
    ) throws -> Int {
        try execute("BEGIN", what: "starting the load of \(table)")
        try execute("TRUNCATE ONLY \(table)", what: "preparing \(table)")
        let rows: Int
        do {
            rows = try copyIn(sql, produce)
        } catch {
            _ = try? execute("ROLLBACK", what: "abandoning the load of \(table)")
            throw error
        }
        try execute("COMMIT", what: "committing the load of \(table)")
        return rows
    }

    /// Runs `sql` (a COPY FROM STDIN) with what `produce` sends, in the session's transaction;
    /// a failure in `produce` ends the COPY with an error. Returns the rows the server reports.
    public func copyIn(_ sql: String, _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> Int
    {
        try startCopy(sql, expect: PGRES_COPY_IN, what: "COPY FROM on the target")
        do {
            try produce { chunk in
                let base = chunk.baseAddress?.assumingMemoryBound(to: CChar.self)
                guard PQputCopyData(conn, base, Int32(chunk.count)) == 1 else {
                    throw failure("sending rows to the target", sql: sql)
                }
                pgkeep_progress_tick()
            }
        } catch {
            _ = PQputCopyEnd(conn, "source failed")
            _ = finishCopyResult()
            throw error
        }
        guard PQputCopyEnd(conn, nil) == 1 else { throw failure("ending the COPY on the target", sql: sql) }
        let result = finishCopyResult()
        guard result.ok else { throw failure("loading rows into the target", sql: sql, text: result.message) }
        return result.rows
    }

    private func startCopy(_ sql: String, expect: ExecStatusType, what: String) throws {
        guard let res = PQexec(conn, sql) else { throw failure(what, sql: sql) }
        defer { PQclear(res) }
        guard PQresultStatus(res) == expect else { throw failure(what, sql: sql, result: res) }
    }

    /// Collects the results that follow a COPY: ok, rows (from the command tag), error text.
    private func finishCopyResult() -> (ok: Bool, rows: Int, message: String) {
        var ok = true
        var rows = 0
        var message = ""
        while let res = PQgetResult(conn) {
            let status = PQresultStatus(res)
            if status == PGRES_COMMAND_OK {
                rows = Int(String(cString: PQcmdTuples(res))) ?? 0
            } else if status == PGRES_COPY_IN {
                // Still in COPY IN (a put failed before the end): end it so the connection is usable.
                _ = PQputCopyEnd(conn, "aborted")
            } else {
                ok = false
                message = String(cString: PQresultErrorMessage(res))
            }
            PQclear(res)
            if PQstatus(conn) != CONNECTION_OK { break }
        }
        return (ok, rows, message)
    }

    /// Asks the server to cancel the statement in progress on this connection (best effort).
    func cancelRunningQuery() {
        guard let cancel = PQgetCancel(conn) else { return }
        var errbuf = [CChar](repeating: 0, count: 256)
        _ = PQcancel(cancel, &errbuf, 256)
        PQfreeCancel(cancel)
        // In COPY OUT, what the server sent before the cancel must be read before the result
        // (elsewhere PQgetCopyData returns -2 at once).
        var buffer: UnsafeMutablePointer<CChar>?
        while PQgetCopyData(conn, &buffer, 0) > 0 {
            PQfreemem(buffer)
            buffer = nil
        }
        _ = finishCopyResult()
    }

    /// An error naming what failed, the statement and the server's (or libpq's) message.
    func failure(_ what: String, sql: String, result: OpaquePointer? = nil, text: String? = nil) -> PGKeepError {
        let raw =
            text ?? result.map { String(cString: PQresultErrorMessage($0)) } ?? String(cString: PQerrorMessage(conn))
        let message = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        return PGKeepError(
            .backup, "\(what) failed: " + (message.isEmpty ? "the connection was lost" : message), command: sql)
    }
}
