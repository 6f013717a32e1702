import Foundation

/// Finds one table's data in a restore script (`pg_restore --data-only --file=-`): the
/// `COPY schema.table (columns) FROM stdin;` line, then every line up to `\.`, handed on as they
/// are (COPY's text format, ready for `COPY ... FROM STDIN`). Everything else is skipped.
struct CopyDataExtractor {
    /// `schema.table` as format('%I.%I') writes it, which is how pg_dump writes the COPY line.
    let table: String
    /// The column list of the COPY line, `(a, b, c)`, once it was seen.
    private(set) var columns: String?
    /// The `\.` line was reached.
    private(set) var finished = false
    private var carry: [UInt8] = []
    private var out: [UInt8] = []

    init(table: String) { self.table = table }

    /// Reads a chunk of script; data lines of the table go to `send`, in batches of whole lines.
    mutating func feed(_ chunk: UnsafeRawBufferPointer, send: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard !finished else { return }
        var start = 0
        let count = chunk.count
        while start < count, !finished {
            guard let nl = memchrIndex(chunk, from: start) else {
                carry.append(contentsOf: chunk[start..<count])
                break
            }
            if carry.isEmpty {
                try line(UnsafeRawBufferPointer(rebasing: chunk[start...nl]))
            } else {
                carry.append(contentsOf: chunk[start...nl])
                let whole = carry
                carry = []
                try whole.withUnsafeBytes { try line($0) }
            }
            start = nl + 1
            if out.count >= 1 << 16 { try flush(send) }
        }
        try flush(send)
    }

    /// One line, its newline included.
    private mutating func line(_ bytes: UnsafeRawBufferPointer) throws {
        if columns != nil {
            if bytes.count == 3 && bytes[0] == 0x5c && bytes[1] == 0x2e {  // "\.\n"
                finished = true
            } else {
                out.append(contentsOf: bytes)
            }
            return
        }
        guard bytes.count > 5, bytes[0] == 0x43, bytes[1] == 0x4f, bytes[2] == 0x50, bytes[3] == 0x59 else { return }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .newlines)
        guard text.hasPrefix("COPY "), text.hasSuffix(" FROM stdin;") else { return }
        let name = ScriptFilter.qualifiedName(at: text.dropFirst(5))
        guard name == table else { return }
        let rest = text.dropFirst(5 + name.count).dropLast(" FROM stdin;".count).trimmingCharacters(in: .whitespaces)
        columns = rest.isEmpty ? "" : rest
    }

    private mutating func flush(_ send: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard !out.isEmpty else { return }
        try out.withUnsafeBytes { try send($0) }
        out.removeAll(keepingCapacity: true)
    }

    private func memchrIndex(_ chunk: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard let base = chunk.baseAddress, from < chunk.count,
            let hit = memchr(base + from, 0x0a, chunk.count - from)
        else { return nil }
        return base.distance(to: UnsafeRawPointer(hit))
    }
}
