import CPGKeep
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
/// The transaction is pgkeep's (see `ScriptPipeline`): the `BEGIN;` and `COMMIT;` lines pg_dump and
/// pg_restore write around large objects (after a `-- Data for Name: BLOBS` header) are removed,
/// so that no COMMIT inside the script can make part of a restore permanent.
///
/// Only statements before the first entry header (`-- Name:` / `-- TOC entry`) are rewritten; from
/// there on every byte passes unchanged, data included, but those transaction lines.
public struct ScriptFilter {
    private let tolerantDrops: Bool
    private var inBody: Bool
    private var inCopy = false
    /// Inside a large-object data entry, where the archiver's BEGIN/COMMIT stand.
    private var inLargeObjects = false
    /// The script's own transaction lines taken out.
    public private(set) var droppedTransactionLines = 0
    private var partial = Data()
    private var statement = ""
    /// The tables of the COPY statements seen, in order.
    public private(set) var copyTables: [String] = []
    /// When the script's data began (its first data entry) and its post-data (the first index,
    /// constraint or trigger after it): the phases of a restore, as psql is fed them.
    public private(set) var dataStarted: Date?
    public private(set) var postDataStarted: Date?

    /// What replaces the archive's `SET lock_timeout = 0;`: pgkeep's bound (nil: the line stays).
    private let lockTimeoutLine: Data?
    /// Bytes to send in place of a line cut out (`line` returned false), if any.
    private var replacement: Data?
    /// The preamble (before the first entry header) is over, or its lock line was replaced: a
    /// `SET lock_timeout = 0;` line in a function body or a string value later is data.
    private var lockLineSettled = false

    /// `lockTimeout`: the bound on the restore's waits for locks. pg_dump's scripts say
    /// `SET lock_timeout = 0;` near their top; that line becomes `SET lock_timeout = 'N';`, so a
    /// DROP or an ALTER that waits for a reader's lock fails after N instead of waiting forever
    /// while it holds what it already locked.
    public init(tolerantDrops: Bool, lockTimeout: TimeInterval? = nil) {
        self.tolerantDrops = tolerantDrops
        inBody = !tolerantDrops
        lockTimeoutLine = lockTimeout.map { Data("SET lock_timeout = '\(max(1, Int(($0 * 1000).rounded())))';\n".utf8) }
    }

    /// Processes a chunk of script and hands what to send on to `emit`. In the body, that is the
    /// chunk itself, uncopied: the whole dump passes through here.
    public mutating func process(_ chunk: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) -> Void) {
        if inBody {
            body(chunk, emit: emit)
            return
        }
        partial.append(contentsOf: chunk)
        var out = Data()
        while let newline = partial.firstIndex(of: 0x0a) {
            let line = String(decoding: partial[partial.startIndex..<newline], as: UTF8.self)
            partial.removeSubrange(partial.startIndex...newline)
            if line.hasPrefix("-- Name: ") || line.hasPrefix("-- TOC entry ") || line.hasPrefix("-- Data for Name: ") {
                inBody = true
                lockLineSettled = true
                var rest = Data((line + "\n").utf8)
                rest.append(partial)
                partial.removeAll()
                out.withUnsafeBytes(emit)
                rest.withUnsafeBytes { body($0, emit: emit) }
                return
            }
            if line == "SET lock_timeout = 0;", !lockLineSettled, let lockTimeoutLine {
                lockLineSettled = true
                out.append(lockTimeoutLine)
            } else if !statement.isEmpty || line.hasPrefix("DROP ") || line.hasPrefix("ALTER ") {
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
        out.append(partial)
        statement = ""
        partial.removeAll()
        out.withUnsafeBytes(emit)
    }

    /// Follows line starts through the body: a COPY statement starts data, a line "\." ends it;
    /// a large-object entry's BEGIN and COMMIT lines are cut out. Data lines are only looked at
    /// for their first bytes, so this costs about a memchr per line. The chunk goes on uncopied
    /// in runs between the lines cut out; an unfinished last line waits for the next chunk.
    private mutating func body(_ chunk: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) -> Void) {
        guard let base = chunk.baseAddress, chunk.count > 0 else { return }
        var start = 0
        var pending = 0
        while start < chunk.count {
            if inCopy && partial.isEmpty { start = Self.copyEnd(base, from: start, count: chunk.count) }
            guard let p = memchr(base + start, 0x0a, chunk.count - start) else {
                emit(UnsafeRawBufferPointer(start: base + pending, count: start - pending))
                partial.append(contentsOf: UnsafeRawBufferPointer(start: base + start, count: chunk.count - start))
                return
            }
            let end = UnsafeRawPointer(p) - base
            let piece = UnsafeRawBufferPointer(start: base + start, count: end - start)
            if partial.isEmpty {
                if !line(piece) {
                    emit(UnsafeRawBufferPointer(start: base + pending, count: start - pending))
                    emitReplacement(emit)
                    pending = end + 1
                }
            } else {
                partial.append(contentsOf: piece)
                var whole = partial
                partial.removeAll()
                if whole.withUnsafeBytes({ line($0) }) {
                    whole.append(0x0a)
                    whole.withUnsafeBytes(emit)
                } else {
                    emitReplacement(emit)
                }
                pending = end + 1
            }
            start = end + 1
        }
        emit(UnsafeRawBufferPointer(start: base + pending, count: chunk.count - pending))
    }

    /// Inside COPY data, where `start` begins a line: the start of the line `\.` that ends the data,
    /// or of the last (unfinished) line of the chunk when the data goes on. The rows in between
    /// pass unlooked-at: one memmem instead of a call per row.
    private static func copyEnd(_ base: UnsafeRawPointer, from start: Int, count: Int) -> Int {
        let marker: StaticString = "\n\\.\n"
        if count - start >= 3 && memcmp(base + start, marker.utf8Start + 1, 3) == 0 { return start }
        if let found = pgkeep_memmem(base + start, count - start, marker.utf8Start, 4) {
            return UnsafeRawPointer(found) - base + 1
        }
        guard let last = pgkeep_memrchr(base + start, 0x0a, count - start) else { return start }
        return UnsafeRawPointer(last) - base + 1
    }

    private mutating func emitReplacement(_ emit: (UnsafeRawBufferPointer) -> Void) {
        replacement?.withUnsafeBytes(emit)
        replacement = nil
    }

    /// Looks at one line of the body (without its newline); false to cut it out (and send
    /// `replacement` instead, when set).
    private mutating func line(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if inCopy {
            if bytes.count == 2 && bytes[0] == 0x5c && bytes[1] == 0x2e { inCopy = false }
            return true
        }
        guard let first = bytes.first else { return true }
        if first == 0x53, !lockLineSettled, let lockTimeoutLine, Self.equals(bytes, "SET lock_timeout = 0;") {  // "S"
            lockLineSettled = true
            replacement = lockTimeoutLine
            return false
        }
        if first == 0x2d && bytes.count > 3 && bytes[1] == 0x2d {  // "--": an entry header?
            let text = String(decoding: bytes, as: UTF8.self)
            if text.hasPrefix("-- Name: ") || text.hasPrefix("-- Data for Name: ") || text.hasPrefix("-- TOC entry ") {
                lockLineSettled = true
                inLargeObjects =
                    text.hasPrefix("-- Data for Name: ")
                    && (text.contains("; Type: BLOBS;") || text.contains("; Type: LARGE OBJECTS;"))
                if dataStarted == nil, text.hasPrefix("-- Data for Name: ") {
                    dataStarted = Date()
                } else if dataStarted != nil, postDataStarted == nil, text.hasPrefix("-- Name: "),
                    Self.postDataTypes.contains(where: { text.contains($0) })
                {
                    postDataStarted = Date()
                }
            }
            return true
        }
        if inLargeObjects && (Self.equals(bytes, "BEGIN;") || Self.equals(bytes, "COMMIT;")) {
            droppedTransactionLines += 1
            return false
        }
        guard bytes.count > 5, first == 0x43, bytes[1] == 0x4f, bytes[2] == 0x50, bytes[3] == 0x59, bytes[4] == 0x20
        else { return true }
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasSuffix("FROM stdin;") else { return true }
        copyTables.append(ScriptFilter.qualifiedName(at: text.dropFirst(5)))
        inCopy = true
        return true
    }

    static let postDataTypes = [
        "; Type: INDEX;", "; Type: CONSTRAINT;", "; Type: FK CONSTRAINT;", "; Type: TRIGGER;", "; Type: RULE;",
        "; Type: INDEX ATTACH;", "; Type: MATERIALIZED VIEW DATA;",
    ]

    private static func equals(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        bytes.count == text.utf8CodeUnitCount && memcmp(bytes.baseAddress!, text.utf8Start, bytes.count) == 0
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

    /// The statement in its own subtransaction, its failure skipped, but for a lock it could
    /// not get within `lock_timeout` (lock_not_available): that one stops the restore, so the
    /// message names the lock, not the CREATE that would fail next ("already exists").
    static func tolerant(_ statement: String) -> String {
        let quote = "$pgkeep_stmt$"
        guard !statement.contains(quote), !statement.contains("$pgkeep_clean$") else { return statement }
        return
            "DO $pgkeep_clean$ BEGIN EXECUTE \(quote)\(statement)\(quote); EXCEPTION WHEN lock_not_available THEN "
            + "RAISE; WHEN OTHERS THEN RAISE NOTICE 'pgkeep --clean skipped: %', SQLERRM; END $pgkeep_clean$;"
    }
}
