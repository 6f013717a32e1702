import Foundation

/// How far a copy's data phase is: for the progress line and the summary.
public struct CopyProgress: Sendable {
    public var tablesDone = 0
    public var tablesTotal = 0
    /// COPY text bytes moved so far.
    public var bytes: Int64 = 0
    /// Heap bytes of the tables done and of all tables (the ETA's measure).
    public var heapDone: Int64 = 0
    public var heapTotal: Int64 = 0
    public var rows: Int64 = 0
    public var started = Date()

    /// Bytes per second so far.
    public var rate: Double { Double(bytes) / max(0.001, Date().timeIntervalSince(started)) }
    /// Seconds left, from the share of heap bytes done (nil until there is something to go by).
    public var eta: Double? {
        guard heapDone > 0, heapTotal > heapDone else { return heapTotal == heapDone ? 0 : nil }
        let elapsed = Date().timeIntervalSince(started)
        return elapsed * Double(heapTotal - heapDone) / Double(heapDone)
    }
}

/// The data phase: `jobs` workers, each with a session on the source in the copy's snapshot and
/// one on the target, take the tables largest first and stream each with COPY from one to the
/// other. Rows pass through this process one at a time; nothing is written to disk.
struct CopyData {
    var source: ConnectionSpec
    var sourceDatabase: String
    var target: ConnectionSpec
    var targetDatabase: String
    var snapshot: String
    var jobs: Int

    func run(_ tables: [CopyTable], progress: Locked<CopyProgress>) throws {
        let workers = max(1, min(jobs, tables.count))
        let sources = try Sessions.open(source, database: sourceDatabase, count: workers, snapshot: snapshot)
        var targetSpec = target
        targetSpec.parameters["application_name"] = ChildEnvironment.applicationName
        let targets = try (0..<workers).map { _ in
            let conn = try PostgresConnection(spec: targetSpec, database: targetDatabase)
            for sql in CopyCatalog.stableOutput { try conn.execute(sql, what: "setting up the target session") }
            return conn
        }
        try Workers.each(tables.count, workers: workers, name: "pgkeep-copy") { worker, i in
            let table = tables[i]
            let columns = table.copyColumns.isEmpty ? "" : " (\(table.copyColumns))"
            // The table was created empty in this database moments ago, so FREEZE is allowed
            // (after TRUNCATE in the same transaction) and spares the first reader setting hint bits.
            let target = targets[worker]
            try target.execute("BEGIN", what: "starting the load of \(table.name)")
            try target.execute("TRUNCATE ONLY \(table.name)", what: "preparing \(table.name)")
            var pending: Int64 = 0
            let rows = try sources[worker].stream(
                "COPY \(table.name)\(columns) TO STDOUT", into: target,
                "COPY \(table.name)\(columns) FROM STDIN WITH (FREEZE)"
            ) { bytes in
                pending += Int64(bytes)
                if pending >= 1 << 20 {
                    let add = pending
                    progress.withLock { $0.bytes += add }
                    pending = 0
                }
            }
            try target.execute("COMMIT", what: "committing the load of \(table.name)")
            let done = pending
            progress.withLock {
                $0.bytes += done
                $0.rows += Int64(rows)
                $0.tablesDone += 1
                $0.heapDone += table.bytes
            }
        }
    }
}
