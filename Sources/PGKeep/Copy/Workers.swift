import Foundation

/// Hands the indices 0..<items to `count` threads of their own (blocking libpq calls, so not
/// the cooperative pool), in order: `body(worker, index)`, each index once. Waits for all; the
/// first error is rethrown after every thread ended, and the others take no more work once one failed.
enum Workers {
    static func each(
        _ items: Int, workers count: Int, name: String, _ body: @escaping @Sendable (Int, Int) throws -> Void
    ) throws {
        let firstError = Locked<Error?>(nil)
        let next = Locked(0)
        let group = DispatchGroup()
        for worker in 0..<max(1, count) {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                while firstError.current == nil {
                    let index = next.withLock { n -> Int in
                        defer { n += 1 }
                        return n
                    }
                    guard index < items else { return }
                    do { try body(worker, index) } catch {
                        firstError.withLock { if $0 == nil { $0 = error } }
                    }
                }
            }
            thread.name = "\(name)-\(worker)"
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
        if let error = firstError.current { throw error }
    }

    /// Runs two closures at once (one on a thread of its own) and returns both results.
    static func both<A: Sendable, B: Sendable>(
        _ first: @escaping @Sendable () throws -> A, _ second: () throws -> B
    ) throws -> (A, B) {
        let result = Locked<Result<A, Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread {
            result.withLock { $0 = Result { try first() } }
            done.signal()
        }.start()
        let b = Result { try second() }
        done.wait()
        return (try result.current!.get(), try b.get())
    }
}

/// The row counts and checksums of every table on both sides, `jobs` tables at a time (each
/// table's two queries run at once, one per server).
struct DataComparer {
    var source: [any SQLSession]
    var target: [any SQLSession]

    func tables(sourceTables: [CopyTable], targetTables: [CopyTable]) throws -> [Comparison.Table] {
        let targetByName = Dictionary(targetTables.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let sourceNames = Set(sourceTables.map(\.name))
        // Both sides hash the same columns: the source's, unless the table is only on the target.
        let work = sourceTables + targetTables.filter { !sourceNames.contains($0.name) }
        let results = Locked([Comparison.Table?](repeating: nil, count: work.count))
        let (source, target) = (source, target)
        try Workers.each(work.count, workers: min(source.count, target.count), name: "pgkeep-compare") { worker, i in
            let table = work[i]
            let onSource = sourceNames.contains(table.name)
            let onTarget = targetByName[table.name] != nil
            let sql = CopyCatalog.checksumSQL(table)
            let (a, b) = try Workers.both(
                { onSource ? try source[worker].query(sql).first : nil },
                { onTarget ? try target[worker].query(sql).first : nil })
            let row = Comparison.Table(
                name: table.name, sourceRows: a.flatMap { Int64($0[0] ?? "") },
                targetRows: b.flatMap { Int64($0[0] ?? "") },
                checksumMatch: a != nil && b != nil && a?[1] == b?[1])
            results.withLock { $0[i] = row }
        }
        return results.current.compactMap { $0 }
    }

    static func sequences(source: [String: String?], target: [String: String?]) -> [Comparison.Sequence] {
        Set(source.keys).union(target.keys).sorted().map { name in
            Comparison.Sequence(
                name: name, source: source[name].map { $0 ?? "null" }, target: target[name].map { $0 ?? "null" })
        }
    }

    static func sequenceValues(_ conn: any SQLSession) throws -> [String: String?] {
        var out: [String: String?] = [:]
        for row in try conn.query(CopyCatalog.sequencesSQL) { out[row[0] ?? ""] = .some(row[1]) }
        return out
    }

    /// Count and checksum of the large objects; counts only when their contents cannot be read.
    static func largeObjects(_ conn: any SQLSession) -> (count: Int64, checksum: String?) {
        _ = try? conn.query("SAVEPOINT pgkeep_lo")
        if let row = try? conn.query(CopyCatalog.largeObjectsSQL).first {
            return (Int64(row[0] ?? "") ?? 0, row[1])
        }
        _ = try? conn.query("ROLLBACK TO SAVEPOINT pgkeep_lo")
        let count = (try? conn.query(CopyCatalog.largeObjectCountSQL).first).flatMap { $0?[0] }.flatMap { Int64($0) }
        return (count ?? 0, nil)
    }
}
