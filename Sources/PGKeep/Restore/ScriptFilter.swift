import Foundation

/// Watches a SQL restore script on its way to psql: notes the table of every
/// `COPY table (...) FROM stdin;` (so psql's `COPY n` tags give exact restored row counts at no
/// extra cost), and, for `--clean`, rewrites the script's clean section so each DROP runs in its
/// own subtransaction and a failure skips only that statement.
///
/// Why the DROPs: pg_restore orders them for objects it created itself; some cannot run on a real
/// database, e.g. PostgreSQL 15 drops a partition's inherited primary key before its parent's and
/// fails with "cannot drop inherited constraint", although dropping the table removes it anyway.
/// A skipped DROP is safe: if the object really stays in the way, creating it again fails, psql
/// stops (ON_ERROR_STOP) and the single transaction rolls everything back.
///
/// Only statements before the first entry header (`-- Name:` / `-- TOC entry`) are rewritten; from
/// there on every byte passes unchanged, data included.
public struct ScriptFilter {
    private let tolerantDrops: Bool
    private var inBody: Bool
    private var inCopy = false
    private var partial = Data()
    private var statement = ""
    /// The tables of the COPY statements seen, in order.
    public private(set) var copyTables: [String] = []

    public init(tolerantDrops: Bool) {
        self.tolerantDrops = tolerantDrops
        inBody = !tolerantDrops
    }

    /// Processes a chunk of script and hands what to send on to `emit`. In the body, that is the
    /// chunk itself, uncopied: the whole dump passes through here.
    public mutating func process(_ chunk: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) -> Void) {
        if inBody {
            scan(chunk)
            emit(chunk)
            return
        }
        partial.append(contentsOf: chunk)
        var out = Data()
        while let newline = partial.firstIndex(of: 0x0a) {
            let line = String(decoding: partial[partial.startIndex..<newline], as: UTF8.self)
            partial.removeSubrange(partial.startIndex...newline)
            if line.hasPrefix("-- Name: ") || line.hasPrefix("-- TOC entry ") || line.hasPrefix("-- Data for Name: ") {
                inBody = true
                var rest = Data((line + "\n").utf8)
                rest.append(partial)
                partial.removeAll()
                rest.withUnsafeBytes { scan($0) }
                out.append(rest)
                out.withUnsafeBytes(emit)
                return
            }
            if !statement.isEmpty || line.hasPrefix("DROP ") || line.hasPrefix("ALTER ") {
                statement += (statement.isEmpty ? "" : "\n") + line
                if line.hasSuffix(";") {
                    out.append(Data((ScriptFilter.tolerant(statement) + "\n").utf8))
                    statement = ""
                }
            } else {
                out.append(Data((line + "\n").utf8))
            }
        }
        out.withUnsafeBytes(emit)
    }

    /// Hands what is left at the end of the script to `emit`.
    public mutating func finish(emit: (UnsafeRawBufferPointer) -> Void) {
        var out = Data(statement.utf8)
        if !inBody { out.append(partial) }
        statement = ""
        partial.removeAll()
        out.withUnsafeBytes(emit)
    }

    /// Follows line starts through the body: a COPY statement starts data, a line "\." ends it.
    /// Data lines are only looked at for their first bytes, so this costs about a memchr per line.
    private mutating func scan(_ chunk: UnsafeRawBufferPointer) {
        guard let base = chunk.baseAddress, chunk.count > 0 else { return }
        var start = 0
        while start < chunk.count {
            let p = memchr(base + start, 0x0a, chunk.count - start)
            let end = p.map { UnsafeRawPointer($0) - base } ?? chunk.count
            let piece = UnsafeRawBufferPointer(start: base + start, count: end - start)
            if p == nil {
                partial.append(contentsOf: piece)
                return
            }
            if partial.isEmpty {
                line(piece)
            } else {
                partial.append(contentsOf: piece)
                let whole = partial
                partial.removeAll()
                whole.withUnsafeBytes { line($0) }
            }
            start = end + 1
        }
    }

    private mutating func line(_ bytes: UnsafeRawBufferPointer) {
        if inCopy {
            if bytes.count == 2 && bytes[0] == 0x5c && bytes[1] == 0x2e { inCopy = false }
            return
        }
        guard bytes.count > 5, bytes[0] == 0x43, bytes[1] == 0x4f, bytes[2] == 0x50, bytes[3] == 0x59, bytes[4] == 0x20
        else { return }
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasSuffix("FROM stdin;") else { return }
        copyTables.append(ScriptFilter.qualifiedName(at: text.dropFirst(5)))
        inCopy = true
    }

    /// The (possibly quoted, possibly schema-qualified) name at the start of `s`, as written.
    static func qualifiedName(at s: Substring) -> String {
        var out = ""
        var quoted = false
        var it = s.makeIterator()
        var pending: Character? = nil
        while let c = pending ?? it.next() {
            pending = nil
            if quoted {
                out.append(c)
                if c == "\"" {
                    if let n = it.next() {
                        if n == "\"" {
                            out.append(n)
                        } else {
                            quoted = false
                            pending = n
                        }
                    } else {
                        break
                    }
                }
            } else if c == "\"" {
                quoted = true
                out.append(c)
            } else if c == " " || c == "(" {
                break
            } else {
                out.append(c)
            }
        }
        return out
    }

    static func tolerant(_ statement: String) -> String {
        let quote = "$pgkeep_stmt$"
        guard !statement.contains(quote), !statement.contains("$pgkeep_clean$") else { return statement }
        return
            "DO $pgkeep_clean$ BEGIN EXECUTE \(quote)\(statement)\(quote); EXCEPTION WHEN OTHERS THEN RAISE NOTICE "
            + "'pgkeep --clean skipped: %', SQLERRM; END $pgkeep_clean$;"
    }
}
