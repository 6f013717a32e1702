import Foundation

/// The dump formats pgkeep writes.
public enum BackupFormat: String, Codable, Sendable, CaseIterable {
    /// pg_dump's custom archive; pgkeep gzips it (`.dump.gz`). Restorable selectively by pg_restore.
    case custom
    /// SQL script (`.sql.gz`), for psql.
    case plain
    /// pg_dump's directory format (`.dir/`), written with `--jobs`; pg_dump compresses each file.
    case directory
    /// Roles and tablespaces from `pg_dumpall --globals-only` (`.globals.sql.gz`).
    case globals

    /// The file-name ending for this format.
    public func fileExtension(compressed: Bool) -> String {
        switch self {
        case .custom: return compressed ? ".dump.gz" : ".dump"
        case .plain: return compressed ? ".sql.gz" : ".sql"
        case .directory: return ".dir"
        case .globals: return compressed ? ".globals.sql.gz" : ".globals.sql"
        }
    }
}

/// A backup's place and name: `DIR/<db>/<db>_<YYYY-MM-DD>T<HHMMSS>Z[-N]<ext>`.
///
/// `<db>` is the database name with every byte outside `A-Z a-z 0-9 _ - .` written as `%XX`
/// (UTF-8, upper-case hex), and a leading `.` as `%2E`: names with spaces, slashes, quotes or
/// non-ASCII letters become safe, and the encoding is reversible, so two databases never share
/// a folder. The time is the UTC start of the backup, to the second. `-N` (N ≥ 1) is added
/// only when a backup with the same name already exists, so two backups in one second never
/// overwrite each other. The cluster's globals (format `globals`) go in the folder `@globals`
/// with that as their database name; a real database called "@globals" is encoded as
/// `%40globals`, so the two never share a folder.
public struct BackupName: Sendable, Equatable {
    public static let globalsDatabase = "@globals"
    public static let manifestSuffix = ".manifest.json"

    public var database: String
    /// Whole seconds, UTC.
    public var time: Date
    public var sequence: Int
    public var format: BackupFormat
    public var compressed: Bool

    public init(database: String, time: Date, sequence: Int = 0, format: BackupFormat, compressed: Bool) {
        self.database = database
        self.time = Date(timeIntervalSince1970: floor(time.timeIntervalSince1970))
        self.sequence = sequence
        self.format = format
        self.compressed = compressed
    }

    /// The folder name for a database (see the type's documentation).
    public static func folderName(for database: String) -> String {
        var out = ""
        let bytes = Array(database.utf8)
        for (i, b) in bytes.enumerated() {
            let c = Character(UnicodeScalar(b))
            let plain = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
                || b == 0x5f || b == 0x2d || (b == 0x2e && i > 0)
            out += plain ? String(c) : String(format: "%%%02X", b)
        }
        return out.isEmpty ? "%00" : out
    }

    /// The database name a folder name stands for, or nil if it is not one pgkeep makes.
    public static func database(forFolder folder: String) -> String? {
        var bytes: [UInt8] = []
        var it = Array(folder.utf8)[...]
        while let b = it.popFirst() {
            if b == 0x25 {
                guard it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) else { return nil }
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        let name = String(decoding: bytes, as: UTF8.self)
        return folderName(for: name) == folder ? name : nil
    }

    /// `2026-04-02T020000Z`.
    public static func timestampString(_ date: Date) -> String {
        var t = time_t(floor(date.timeIntervalSince1970))
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02dT%02d%02d%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    /// ISO 8601 with separators, for manifests and output: `2026-04-02T02:00:00Z`.
    public static func isoString(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: date)
    }

    public var folder: String { format == .globals ? BackupName.globalsDatabase : BackupName.folderName(for: database) }

    public var stem: String {
        "\(folder)_\(BackupName.timestampString(time))" + (sequence > 0 ? "-\(sequence)" : "")
    }

    /// The data file (or directory) name.
    public var fileName: String { stem + format.fileExtension(compressed: compressed) }

    /// The manifest beside it: the data name plus `.manifest.json`.
    public var manifestName: String { fileName + BackupName.manifestSuffix }

    /// Parses a data file name made by pgkeep; nil for anything else.
    public static func parse(fileName: String) -> BackupName? {
        let pattern = "^(.+)_(\\d{4})-(\\d{2})-(\\d{2})T(\\d{2})(\\d{2})(\\d{2})Z(?:-([1-9]\\d*))?(\\.dump\\.gz|\\.dump|\\.sql\\.gz|\\.sql|\\.dir|\\.globals\\.sql\\.gz|\\.globals\\.sql)$"
        guard let regex = try? NSRegularExpression(pattern: pattern),
              let m = regex.firstMatch(in: fileName, range: NSRange(fileName.startIndex..., in: fileName)) else { return nil }
        func g(_ i: Int) -> String? { Range(m.range(at: i), in: fileName).map { String(fileName[$0]) } }
        guard let folder = g(1), let ext = g(9) else { return nil }
        let isGlobals = ext.hasPrefix(".globals")
        guard let database = isGlobals ? (folder == globalsDatabase ? folder : nil) : database(forFolder: folder) else { return nil }
        var c = DateComponents()
        c.timeZone = TimeZone(identifier: "UTC")
        c.year = Int(g(2)!); c.month = Int(g(3)!); c.day = Int(g(4)!)
        c.hour = Int(g(5)!); c.minute = Int(g(6)!); c.second = Int(g(7)!)
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        guard let date = cal.date(from: c), timestampString(date) == "\(g(2)!)-\(g(3)!)-\(g(4)!)T\(g(5)!)\(g(6)!)\(g(7)!)Z" else { return nil }
        let format: BackupFormat
        switch ext {
        case ".dump.gz", ".dump": format = .custom
        case ".sql.gz", ".sql": format = .plain
        case ".dir": format = .directory
        default: format = .globals
        }
        return BackupName(database: database, time: date, sequence: g(8).flatMap { Int($0) } ?? 0,
                          format: format, compressed: ext.hasSuffix(".gz") || ext == ".dir")
    }
}
