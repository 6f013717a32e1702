import Foundation

/// The dump formats pgkeep writes.
public enum BackupFormat: String, Codable, Sendable, CaseIterable {
    /// pg_dump's custom archive; pgkeep compresses it (`.dump.gz`, `.dump.zst`). Restorable selectively
    /// by pg_restore.
    case custom
    /// SQL script (`.sql.gz`, `.sql.zst`), for psql.
    case plain
    /// pg_dump's directory format (`.dir/`), written with `--jobs`; pg_dump compresses each file.
    case directory
    /// Roles and tablespaces from `pg_dumpall --globals-only` (`.globals.sql.gz`).
    case globals

    /// The file-name ending for this format with this compression (nil: none).
    public func fileExtension(codec: Codec?) -> String {
        let suffix = codec?.fileSuffix ?? ""
        switch self {
        case .custom: return ".dump" + suffix
        case .plain: return ".sql" + suffix
        case .directory: return ".dir"
        case .globals: return ".globals.sql" + suffix
        }
    }
}

/// A backup's place and name: `DIR/<db>/<db>_<YYYY-MM-DD>T<HHMMSS>Z[_NNN]<ext>`.
///
/// `<db>` is the database name with every byte outside `A-Z a-z 0-9 _ - .` written as `%XX`
/// (UTF-8, upper-case hex), and a leading `.` as `%2E`: names with spaces, slashes, quotes or
/// non-ASCII letters become safe, and the encoding is reversible, so two databases never share
/// a folder. The time is the UTC start of the backup, to the second. `_NNN` (001 to 999) is added
/// only when a backup with the same name already exists, so two backups in one second never
/// overwrite each other, and names sort by time in plain byte order (older `-N` names still read). The cluster's globals (format `globals`) go in the folder `@globals`
/// with that as their database name; a real database called "@globals" is encoded as
/// `%40globals`, so the two never share a folder.
public struct BackupName: Sendable, Equatable {
    public static let globalsDatabase = "@globals"
    public static let manifestSuffix = ".manifest.json"

    public var database: String
    /// Whole seconds, UTC.
    public var time: Date
    public var sequence: Int
    /// The name was written by pgkeep before 0.3 with `-N`: it keeps that form, so the name
    /// still names its file.
    public var legacySequence = false
    public var format: BackupFormat
    /// The compression pgkeep applied to the stream (nil: none). A directory's files are compressed by
    /// pg_dump itself: its codec is `.gzip` and its name `.dir` all the same.
    public var codec: Codec?
    /// Encrypted with age after compression: the name ends in `.age` (`.dump.gz.age`).
    public var encrypted: Bool

    public init(
        database: String, time: Date, sequence: Int = 0, format: BackupFormat, codec: Codec?, encrypted: Bool = false
    ) {
        self.database = database
        self.time = Date(timeIntervalSince1970: floor(time.timeIntervalSince1970))
        self.sequence = sequence
        self.format = format
        self.codec = codec
        self.encrypted = encrypted
    }

    public static let encryptedSuffix = ".age"

    /// The folder name for a database (see the type's documentation).
    public static func folderName(for database: String) -> String {
        var out = ""
        let bytes = Array(database.utf8)
        for (i, b) in bytes.enumerated() {
            let c = Character(UnicodeScalar(b))
            let plain =
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
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
                guard it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) else {
                    return nil
                }
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
    public static func timestampString(_ date: Date) -> String { format(date, timeSeparator: nil) }

    /// ISO 8601 with separators, for manifests and output: `2026-04-02T02:00:00Z`.
    public static func isoString(_ date: Date) -> String { format(date, timeSeparator: UInt8(ascii: ":")) }

    /// Both forms, written as bytes (list prints 100,000 of them).
    private static func format(_ date: Date, timeSeparator: UInt8?) -> String {
        let c = utc(date)
        var out = [UInt8]()
        out.reserveCapacity(20)
        func digits(_ n: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var n = n
            if n >= divisor * 10 {
                out.append(contentsOf: String(n).utf8)
                return
            }
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(n / divisor))
                n %= divisor
                divisor /= 10
            }
        }
        digits(c.year, 4)
        out.append(UInt8(ascii: "-"))
        digits(c.month, 2)
        out.append(UInt8(ascii: "-"))
        digits(c.day, 2)
        out.append(UInt8(ascii: "T"))
        digits(c.hour, 2)
        if let timeSeparator { out.append(timeSeparator) }
        digits(c.minute, 2)
        if let timeSeparator { out.append(timeSeparator) }
        digits(c.second, 2)
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Reads what `isoString` writes.
    public static func parseISO(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)
    }

    /// UTC calendar fields of a time (whole seconds).
    static func utc(_ date: Date) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        var t = time_t(floor(date.timeIntervalSince1970))
        var p = tm()
        gmtime_r(&t, &p)
        return (Int(p.tm_year) + 1900, Int(p.tm_mon) + 1, Int(p.tm_mday), Int(p.tm_hour), Int(p.tm_min), Int(p.tm_sec))
    }

    public var folder: String { format == .globals ? BackupName.globalsDatabase : BackupName.folderName(for: database) }

    public var stem: String {
        "\(folder)_\(BackupName.timestampString(time))"
            + (sequence == 0 ? "" : legacySequence ? "-\(sequence)" : Self.sequenceText(sequence))
    }

    /// `_001` ... `_999`: after the unsuffixed name in plain byte order (`_` sorts after `.`), and
    /// in number order among themselves (three digits), so `ls | tail -1` is the newest. Names of
    /// pgkeep before 0.3 (`-1`, `-2`, ...) are still read.
    static func sequenceText(_ n: Int) -> String {
        "_" + String(repeating: "0", count: max(0, 3 - String(n).count)) + String(n)
    }

    /// The highest sequence a name can carry (one second can hold 1,000 backups of a database).
    public static let maxSequence = 999

    /// The data file (or directory) name.
    public var fileName: String {
        stem + format.fileExtension(codec: codec) + (encrypted ? Self.encryptedSuffix : "")
    }

    /// The manifest beside it: the data name plus `.manifest.json`.
    public var manifestName: String { fileName + BackupName.manifestSuffix }

    /// Every ending a data file can have, from the formats' and the codecs' own (`Codec.fileSuffix`),
    /// longest first so that `.globals.sql.gz` is not taken for `.sql.gz`.
    static let extensions: [(String, BackupFormat, Codec?)] = {
        var out: [(String, BackupFormat, Codec?)] = [(".dir", .directory, .gzip)]
        for format in [BackupFormat.globals, .custom, .plain] {
            for codec in [nil] + Codec.allCases.map(Optional.some) {
                out.append((format.fileExtension(codec: codec), format, codec))
            }
        }
        return out.sorted { $0.0.count > $1.0.count }
    }()

    /// Parses a data file name made by pgkeep; nil for anything else. (Hand-written: it runs once
    /// per file when listing directories of 100,000 backups.)
    public static func parse(fileName: String) -> BackupName? {
        parse(fileName: fileName, folder: nil)
    }

    /// `parse(fileName:)` for files of a folder already known to be `folder` for `database`:
    /// skips decoding the database name again for each file.
    static func parse(fileName given: String, folder known: (name: String, database: String)?) -> BackupName? {
        let encrypted = given.hasSuffix(encryptedSuffix)
        let fileName = encrypted ? String(given.dropLast(encryptedSuffix.count)) : given
        guard let (ext, format, codec) = extensions.first(where: { fileName.hasSuffix($0.0) }),
            !(encrypted && format == .directory)
        else { return nil }
        var stem = Array(fileName.utf8.dropLast(ext.utf8.count))
        var sequence = 0
        var legacy = false
        if stem.last != UInt8(ascii: "Z") {
            // `_NNN` (three digits, 001 to 999), or the older `-N` (no leading zero).
            if stem.count > 4, stem[stem.count - 4] == UInt8(ascii: "_"), let n = digits(stem.suffix(3)), n > 0 {
                sequence = n
                stem.removeLast(4)
            } else if let dash = stem.lastIndex(of: UInt8(ascii: "-")), dash + 1 < stem.count,
                stem[dash + 1] != UInt8(ascii: "0"), stem.count - dash - 1 <= 6,
                let n = digits(stem[(dash + 1)...]), n > 0
            {
                sequence = n
                legacy = true
                stem = Array(stem[..<dash])
            } else {
                return nil
            }
        }
        // <folder>_YYYY-MM-DDTHHMMSSZ
        guard stem.count > 19 else { return nil }
        let ts = Array(stem.suffix(18))
        guard stem[stem.count - 19] == UInt8(ascii: "_"), ts[4] == UInt8(ascii: "-"), ts[7] == UInt8(ascii: "-"),
            ts[10] == UInt8(ascii: "T"), ts[17] == UInt8(ascii: "Z"),
            let year = digits(ts[0..<4]), let month = digits(ts[5..<7]), let day = digits(ts[8..<10]),
            let hour = digits(ts[11..<13]), let minute = digits(ts[13..<15]), let second = digits(ts[15..<17]),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60
        else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let t = timegm(&parts)
        let date = Date(timeIntervalSince1970: TimeInterval(t))
        // Rejects days a month does not have (timegm normalizes 2026-02-30 to March).
        let back = utc(date)
        guard back.day == day, back.month == month else { return nil }
        let folder = String(decoding: stem[..<(stem.count - 19)], as: UTF8.self)
        let database: String
        if let known {
            guard folder == known.name, (format == .globals) == (known.name == globalsDatabase) else { return nil }
            database = known.database
        } else if format == .globals {
            guard folder == globalsDatabase else { return nil }
            database = folder
        } else {
            guard let name = self.database(forFolder: folder) else { return nil }
            database = name
        }
        var name = BackupName(
            database: database, time: date, sequence: sequence, format: format, codec: codec,
            encrypted: encrypted)
        name.legacySequence = legacy
        return name
    }

    private static func digits<C: Collection>(_ bytes: C) -> Int? where C.Element == UInt8 {
        var n = 0
        for b in bytes {
            guard b >= 0x30 && b <= 0x39 else { return nil }
            n = n * 10 + Int(b - 0x30)
        }
        return bytes.isEmpty ? nil : n
    }
}
