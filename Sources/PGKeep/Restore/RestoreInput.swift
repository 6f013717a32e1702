import Foundation

/// What kind of dump a restore reads, found from its content (not its name).
public enum ArchiveKind: String, Sendable {
    /// pg_dump's custom archive, gzipped (pgkeep's default `.dump.gz`).
    case customGzip = "custom (gzip)"
    /// pg_dump's custom archive (`.dump`).
    case custom
    /// pg_dump's tar archive (`.tar`).
    case tar
    /// pg_dump's directory format.
    case directory
    /// A SQL script, gzipped (`.sql.gz`).
    case plainGzip = "plain SQL (gzip)"
    /// A SQL script (`.sql`).
    case plain = "plain SQL"

    /// pg_restore reads it (everything but SQL scripts, which go to psql).
    public var isArchive: Bool { self != .plain && self != .plainGzip }
    public var isGzip: Bool { self == .customGzip || self == .plainGzip }
}

/// The backup a restore reads: the data path, its kind, and its pgkeep manifest when it has one.
public struct RestoreInput: Sendable {
    public var path: String
    public var kind: ArchiveKind
    public var manifest: Manifest?

    /// Opens a pgkeep backup (its data file, directory or manifest) or any stock pg_dump output.
    public static func open(_ given: String) throws -> RestoreInput {
        var path = given
        var manifest: Manifest?
        if given.hasSuffix(BackupName.manifestSuffix) {
            let m = try Manifest.load(path: given)
            path = ((given as NSString).deletingLastPathComponent as NSString).appendingPathComponent(m.file)
            manifest = m
        } else if FileManager.default.fileExists(atPath: given + BackupName.manifestSuffix) {
            manifest = try Manifest.load(path: given + BackupName.manifestSuffix)
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw PGKeepError(.usage, "\(path) does not exist")
        }
        let kind = try isDir.boolValue ? detectDirectory(path) : detectFile(path)
        return RestoreInput(path: path, kind: kind, manifest: manifest)
    }

    static func detectDirectory(_ path: String) throws -> ArchiveKind {
        guard FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("toc.dat")) else {
            throw PGKeepError(.backup, "\(path) is a directory without toc.dat: not a pg_dump directory-format backup")
        }
        return .directory
    }

    static func detectFile(_ path: String) throws -> ArchiveKind {
        let fd = Foundation.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PGKeepError(.backup, "cannot open \(path): \(errnoText())") }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: 512)
        let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 512, 0) }
        guard n > 0 else {
            throw PGKeepError(.backup, "\(path) is empty: it is not a backup; the target was not touched")
        }
        if n >= 2 && head[0] == 0x1f && head[1] == 0x8b {
            // Peek at the start of the decompressed stream.
            var first = [UInt8]()
            do {
                _ = try GzipReader.decompress(fd: fd, path: path) { chunk in
                    first.append(contentsOf: chunk.prefix(5 - first.count))
                    return first.count < 5
                }
            } catch {
                // A stream too short to show 5 bytes is classified by what it showed; the full
                // check reports the damage.
                if first.isEmpty { throw error }
            }
            _ = lseek(fd, 0, SEEK_SET)
            return first == Array("PGDMP".utf8) ? .customGzip : .plainGzip
        }
        if n >= 5 && Array(head[0..<5]) == Array("PGDMP".utf8) { return .custom }
        if n >= 262 && Array(head[257..<262]) == Array("ustar".utf8) { return .tar }
        return .plain
    }
}
