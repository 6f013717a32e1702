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

/// The data phase: one worker per source end (a session in the copy's snapshot, or a psql per
/// table in a docker compose service) and target end, taking the tables largest first and
/// streaming each with COPY from one to the other. Rows pass through this process as they come;
/// nothing is written to disk.
struct CopyData {
    var sources: [any CopySourceEnd]
    var targets: [any CopyTargetEnd]

    func run(_ tables: [CopyTable], progress: Locked<CopyProgress>) throws {
        let (sources, targets) = (sources, targets)
        try Workers.each(tables.count, workers: min(sources.count, targets.count), name: "pgkeep-copy") {
            worker, i in
            let table = tables[i]
            let columns = table.copyColumns.isEmpty ? "" : " (\(table.copyColumns))"
            var pending: Int64 = 0
            // The table was created empty in this database moments ago, so FREEZE is allowed
            // (after TRUNCATE in the same transaction) and spares the first reader setting hint bits.
            let rows = try targets[worker].load(
                table: table.name, "COPY \(table.name)\(columns) FROM STDIN WITH (FREEZE)"
            ) { send in
                try sources[worker].unload("COPY \(table.name)\(columns) TO STDOUT") { chunk in
                    try send(chunk)
                    pending += Int64(chunk.count)
                    if pending >= 1 << 20 {
                        let add = pending
                        progress.withLock { $0.bytes += add }
                        pending = 0
                    }
                }
            }
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
