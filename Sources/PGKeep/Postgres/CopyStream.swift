import CLibPQ
import Foundation

/// COPY between two libpq connections in this process: `COPY ... TO STDOUT` on one side read
/// with PQgetCopyData, each row handed to PQputCopyData on the other side's
/// `COPY ... FROM STDIN`. Nothing is buffered beyond a row and libpq's own send buffer, so
/// memory stays flat whatever the table's size.
extension PostgresConnection {
    /// Runs `sql` (no rows expected) or throws naming `what`.
    func execute(_ sql: String, what: String) throws {
        guard let res = PQexec(conn, sql) else { throw failure(what, sql: sql) }
        defer { PQclear(res) }
        let status = PQresultStatus(res)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            throw failure(what, sql: sql, result: res)
        }
    }

    /// Streams `copyOut` (a COPY TO STDOUT here) into `copyIn` (a COPY FROM STDIN on `target`).
    /// `progress` gets the bytes of each row. Returns the rows the target's COPY reports.
    func stream(_ copyOut: String, into target: PostgresConnection, _ copyIn: String, progress: (Int) -> Void)
        throws -> Int
    {
        try startCopy(copyOut, expect: PGRES_COPY_OUT, what: "COPY TO on the source")
        do {
            try target.startCopy(copyIn, expect: PGRES_COPY_IN, what: "COPY FROM on the target")
        } catch {
            cancelRunningQuery()
            throw error
        }
        var buffer: UnsafeMutablePointer<CChar>?
        while true {
            let n = PQgetCopyData(conn, &buffer, 0)
            if n > 0, let row = buffer {
                let sent = PQputCopyData(target.conn, row, n)
                PQfreemem(row)
                buffer = nil
                guard sent == 1 else {
                    cancelRunningQuery()
                    _ = target.finishCopyResult()
                    throw target.failure("sending rows to the target", sql: copyIn)
                }
                progress(Int(n))
                continue
            }
            if n == -1 { break }
            // -2: the source failed (connection lost, server stopped).
            let error = failure("reading rows from the source", sql: copyOut)
            _ = PQputCopyEnd(target.conn, "source failed")
            _ = target.finishCopyResult()
            throw error
        }
        let sourceResult = finishCopyResult()
        guard sourceResult.ok else {
            _ = PQputCopyEnd(target.conn, "source failed")
            _ = target.finishCopyResult()
            throw failure("reading rows from the source", sql: copyOut, text: sourceResult.message)
        }
        guard PQputCopyEnd(target.conn, nil) == 1 else {
            throw target.failure("ending the COPY on the target", sql: copyIn)
        }
        let targetResult = target.finishCopyResult()
        guard targetResult.ok else {
            throw target.failure("loading rows into the target", sql: copyIn, text: targetResult.message)
        }
        return targetResult.rows
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
