import Foundation

/// Rewrites the clean section of a `pg_restore --clean --if-exists --file=-` script so that each
/// DROP runs in its own subtransaction and a failure skips only that statement.
///
/// Why: pg_restore's DROP statements are ordered for objects it created itself; some cannot run
/// on a real database, e.g. PostgreSQL 15 drops a partition's inherited primary key before its
/// parent's and fails with "cannot drop inherited constraint", although dropping the table removes
/// it anyway. A skipped DROP is safe: if the object really stays in the way, creating it again
/// fails, psql stops (ON_ERROR_STOP) and the single transaction rolls everything back.
///
/// Only the statements before the first entry header (`-- Name:` / `-- TOC entry`) are rewritten;
/// the rest of the script, data included, passes through untouched.
public struct CleanFilter {
    private var inBody = false
    private var pending = Data()
    private var statement = ""

    public init() {}

    /// Transforms a chunk of script; returns what to send on.
    public mutating func process(_ chunk: UnsafeRawBufferPointer) -> Data {
        if inBody { return Data(chunk) }
        pending.append(contentsOf: chunk)
        var out = Data()
        while let newline = pending.firstIndex(of: 0x0a) {
            let lineData = pending[pending.startIndex..<newline]
            pending.removeSubrange(pending.startIndex...newline)
            let line = String(decoding: lineData, as: UTF8.self)
            if line.hasPrefix("-- Name: ") || line.hasPrefix("-- TOC entry ") || line.hasPrefix("-- Data for Name: ") {
                inBody = true
                out.append(Data((line + "\n").utf8))
                out.append(pending)
                pending.removeAll()
                return out
            }
            if !statement.isEmpty || line.hasPrefix("DROP ") || line.hasPrefix("ALTER ") {
                statement += (statement.isEmpty ? "" : "\n") + line
                if line.hasSuffix(";") {
                    out.append(Data((CleanFilter.tolerant(statement) + "\n").utf8))
                    statement = ""
                }
            } else {
                out.append(Data((line + "\n").utf8))
            }
        }
        return out
    }

    /// What is left at the end of the script.
    public mutating func finish() -> Data {
        var out = Data(statement.utf8)
        out.append(pending)
        statement = ""
        pending.removeAll()
        return out
    }

    static func tolerant(_ statement: String) -> String {
        let quote = "$pgkeep_stmt$"
        guard !statement.contains(quote), !statement.contains("$pgkeep_clean$") else { return statement }
        return "DO $pgkeep_clean$ BEGIN EXECUTE \(quote)\(statement)\(quote); EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'pgkeep --clean skipped: %', SQLERRM; END $pgkeep_clean$;"
    }
}
