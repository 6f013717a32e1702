import CDeflate
import Foundation

/// The bytes of a catalog cache file (see `CatalogCache`): little-endian integers, strings as a
/// length and UTF-8, a CRC-32 of everything before it at the end. Nothing in it is trusted that
/// the CRC, the lengths and the backup names do not check again on reading.
enum CatalogCacheCoding {
    static let magic = Array("PGKEEP-CATALOG-1".utf8)

    /// The cache of one folder: its stat when it was read, and what the scan found there (names
    /// relative to the folder).
    static func encode(key: CatalogCache.FolderKey, folder: String, part: CatalogScan) -> [UInt8] {
        var w = Writer()
        w.bytes.reserveCapacity(128 + part.backups.count * 160)
        w.bytes += magic
        for v in key.fields { w.int(v) }
        w.string(folder)
        w.int(Int64(part.backups.count))
        for b in part.backups {
            let m = b.manifest
            w.string(fileName(b.dataPath))
            w.string(m.database)
            w.string(m.format.rawValue)
            w.int(m.size)
            w.optional(m.label) { $0.string($1) }
            w.byte(m.pinned ? 1 : 0)
            w.optional(m.anomalies) { w, list in
                w.int(Int64(list.count))
                for a in list { w.string(a) }
            }
            w.optional(m.shrinkAccepted) { $0.byte($1 ? 1 : 0) }
            w.optional(m.shrinkBaseline) { $0.string($1) }
            w.optional(m.finishedAt) { $0.string($1) }
            w.optional(m.durationSeconds) { $0.int(Int64(bitPattern: $1.bitPattern)) }
        }
        for list in [part.leftovers, part.orphans] {
            w.int(Int64(list.count))
            for path in list { w.string(fileName(path)) }
        }
        let crc = w.bytes.withUnsafeBytes { UInt32(libdeflate_crc32(0, $0.baseAddress, $0.count)) }
        w.int32(crc)
        return w.bytes
    }

    /// What `encode` wrote, or nil if the bytes are not exactly that (cut, flipped, another
    /// folder's, another stat's, or a name that is not a pgkeep backup of this folder).
    static func decode(
        _ bytes: UnsafeRawBufferPointer, key: CatalogCache.FolderKey, folder: String, folderPath: String,
        known: (name: String, database: String)
    ) -> CatalogScan? {
        guard bytes.count >= magic.count + 4 else { return nil }
        let body = UnsafeRawBufferPointer(rebasing: bytes[..<(bytes.count - 4)])
        var stored: UInt32 = 0
        for i in 0..<4 { stored |= UInt32(bytes[bytes.count - 4 + i]) << (8 * UInt32(i)) }
        guard UInt32(libdeflate_crc32(0, body.baseAddress, body.count)) == stored else { return nil }
        var r = Reader(bytes: body)
        guard r.take(magic.count).map({ Array($0) }) == magic else { return nil }
        for v in key.fields { guard r.int() == v else { return nil } }
        guard r.string() == folder, let count = r.count() else { return nil }
        var part = CatalogScan()
        // Each backup takes at least 27 bytes: a count in a damaged file reserves no more than that.
        part.backups.reserveCapacity(min(count, body.count / 27))
        let prefix = folderPath + "/"
        var database = known.database  // one string for the folder's backups, not one each
        for _ in 0..<count {
            guard let dataName = r.string(), let name = BackupName.parse(fileName: dataName, folder: known),
                let stated = r.string(), let format = r.string().flatMap(BackupFormat.init(rawValue:)),
                let size = r.int(), let label = r.optional({ $0.string() }), let pinned = r.byte(), pinned <= 1,
                let anomalies = r.optional({ r in r.count().flatMap { n in r.strings(n) } }),
                let accepted = r.optional({ r in r.byte().flatMap { $0 <= 1 ? $0 == 1 : nil } }),
                let baseline = r.optional({ $0.string() }), let finished = r.optional({ $0.string() }),
                let duration = r.optional({ r in r.int().map { Double(bitPattern: UInt64(bitPattern: $0)) } })
            else { return nil }
            if stated != database { database = stated }
            var summary = ManifestSummary(
                database: database, file: dataName, format: format, size: size, label: label, pinned: pinned == 1)
            summary.anomalies = anomalies
            summary.shrinkAccepted = accepted
            summary.shrinkBaseline = baseline
            summary.finishedAt = finished
            summary.durationSeconds = duration
            part.backups.append(
                CatalogScan.Backup(
                    name: name, dataPath: prefix + dataName,
                    manifestPath: prefix + dataName + BackupName.manifestSuffix,
                    manifest: summary))
        }
        guard let leftovers = r.count().flatMap({ r.strings($0) }), let orphans = r.count().flatMap({ r.strings($0) }),
            r.atEnd
        else { return nil }
        for name in leftovers + orphans where name.contains("/") || name.hasPrefix(".") { return nil }
        part.leftovers = leftovers.map { prefix + $0 }
        part.orphans = orphans.map { prefix + $0 }
        return part
    }

    private static func fileName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    private struct Writer {
        var bytes: [UInt8] = []
        mutating func byte(_ v: UInt8) { bytes.append(v) }
        mutating func int32(_ v: UInt32) {
            for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
        }
        mutating func int(_ v: Int64) {
            let u = UInt64(bitPattern: v)
            for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: u >> (8 * UInt64(i)))) }
        }
        mutating func string(_ s: String) {
            let utf8 = s.utf8
            int32(UInt32(utf8.count))
            bytes += utf8
        }
        mutating func optional<T>(_ v: T?, _ body: (inout Writer, T) -> Void) {
            guard let v else { return byte(0) }
            byte(1)
            body(&self, v)
        }
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var at = 0
        var atEnd: Bool { at == bytes.count }

        mutating func take(_ n: Int) -> UnsafeRawBufferPointer? {
            guard n >= 0, n <= bytes.count - at else { return nil }
            defer { at += n }
            return UnsafeRawBufferPointer(rebasing: bytes[at..<(at + n)])
        }
        mutating func byte() -> UInt8? { take(1)?[0] }
        mutating func int() -> Int64? {
            guard let b = take(8) else { return nil }
            var u: UInt64 = 0
            for i in 0..<8 { u |= UInt64(b[i]) << (8 * UInt64(i)) }
            return Int64(bitPattern: u)
        }
        /// A count of items that each take at least one byte: never more than the bytes left.
        mutating func count() -> Int? {
            guard let n = int(), n >= 0, n <= bytes.count - at else { return nil }
            return Int(n)
        }
        mutating func string() -> String? {
            guard let b = take(4) else { return nil }
            var n = 0
            for i in 0..<4 { n |= Int(b[i]) << (8 * i) }
            guard let s = take(n) else { return nil }
            return String(validating: s, as: UTF8.self)
        }
        mutating func strings(_ n: Int) -> [String]? {
            var out: [String] = []
            out.reserveCapacity(min(n, (bytes.count - at) / 4))
            for _ in 0..<n {
                guard let s = string() else { return nil }
                out.append(s)
            }
            return out
        }
        /// .some(nil) for an absent value, .some(value), or nil when the bytes are not either.
        mutating func optional<T>(_ body: (inout Reader) -> T?) -> T?? {
            switch byte() {
            case 0: return .some(nil)
            case 1: return body(&self).map { .some($0) }
            default: return nil
            }
        }
    }
}
