import Foundation

/// What kind of dump a restore reads, found from its content (not its name): pg_dump's container
/// (custom, tar, directory, a SQL script) and the compression pgkeep removes before pg_restore or
/// psql reads it. Every codec combines with the custom archive and the SQL script, so a new codec
/// needs nothing here.
public struct ArchiveKind: Sendable, Equatable, CustomStringConvertible {
    public enum Container: String, Sendable {
        case custom
        case tar
        case directory
        case plain = "plain SQL"
        /// An age-encrypted file (pgkeep's `--encrypt-to`), to decrypt before anything else.
        case encrypted = "age-encrypted"
    }

    public var container: Container
    /// The compression pgkeep removes before pg_restore or psql reads it (nil: none).
    public var codec: Codec?

    public init(_ container: Container, codec: Codec? = nil) {
        self.container = container
        self.codec = codec
    }

    /// pg_dump's custom archive (`.dump`), tar archive, directory format; a SQL script (`.sql`);
    /// an age-encrypted file.
    public static let custom = ArchiveKind(.custom)
    public static let tar = ArchiveKind(.tar)
    public static let directory = ArchiveKind(.directory)
    public static let plain = ArchiveKind(.plain)
    public static let encrypted = ArchiveKind(.encrypted)

    /// pg_restore reads it (everything but SQL scripts, which go to psql).
    public var isArchive: Bool { !isScript && container != .encrypted }
    /// A SQL script, for psql.
    public var isScript: Bool { container == .plain }

    /// A custom archive or SQL script compressed with `codec`.
    static func compressed(_ codec: Codec, archive: Bool) -> ArchiveKind {
        ArchiveKind(archive ? .custom : .plain, codec: codec)
    }

    /// "custom (gzip)", "plain SQL (zstd)", "tar".
    public var description: String { container.rawValue + (codec.map { " (\($0.rawValue))" } ?? "") }
}

/// The backup a restore reads: the data path, its kind, and its pgkeep manifest when it has one.
/// An encrypted backup is checked, decrypted into a private scratch file and read from there:
/// `path` is then the scratch file, `origin` the backup the user named.
public struct RestoreInput: Sendable {
    public var path: String
    public var kind: ArchiveKind
    public var manifest: Manifest?
    /// The backup as the user named it, for messages.
    public var origin: String
    /// The scratch directory holding the decrypted file, removed by `removeScratch()`.
    public var scratch: String?
    /// Set for a backup read straight from object storage: the command that writes its bytes
    /// (`rclone cat`). It is read once, as it is restored; its sha256 and size are checked against
    /// the manifest at the end, before the restore's transaction may commit.
    public var stream: RemoteBytes?
    /// Set on the copy a one-pass local restore reads (`RestoreJob`): the file is hashed as it is
    /// decompressed and checked against the manifest at its end, where a streamed one is; the
    /// reader must not let the restore commit (or pg_restore start) before that returns.
    public var checkedAsRead = false

    public init(path: String, kind: ArchiveKind, manifest: Manifest?, origin: String? = nil, scratch: String? = nil) {
        self.path = path
        self.kind = kind
        self.manifest = manifest
        self.origin = origin ?? path
        self.scratch = scratch
    }

    /// A compressed custom archive or SQL script on a remote, restored as it downloads. Only for
    /// what one pass can restore: a whole, single-transaction restore of a gzip or zstd backup.
    public static func streaming(_ bytes: RemoteBytes, origin: String, manifest: Manifest) throws -> RestoreInput {
        guard manifest.encryption == nil, let codec = Codec(rawValue: manifest.compression.algorithm),
            manifest.format == .custom || manifest.format == .plain
        else {
            throw PGKeepError(.usage, "\(origin) cannot be restored while it downloads")
        }
        var input = RestoreInput(
            path: origin, kind: .compressed(codec, archive: manifest.format == .custom), manifest: manifest,
            origin: origin)
        input.stream = bytes
        return input
    }

    public func removeScratch() {
        if let scratch { FileSystem.removeTree(scratch) }
    }

    /// Opens a pgkeep backup (its data file, directory or manifest) or any stock pg_dump output.
    /// An age-encrypted one needs `identity` (an age key file): its ciphertext is first checked
    /// against the manifest, then it is decrypted into a 0600 file in a 0700 scratch directory
    /// (in TMPDIR), and that file is checked against the manifest's plaintext sha256.
    public static func open(
        _ given: String, identity: String?, passphrase: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> RestoreInput {
        let input = try open(given)
        guard input.kind == .encrypted else { return input }
        let withPassphrase = input.manifest?.encryption?.passphrase == true
        let recipients =
            input.manifest?.encryption.map {
                $0.recipients.isEmpty ? "" : " to " + $0.recipients.joined(separator: ", ")
            } ?? ""
        if withPassphrase ? passphrase == nil : (identity == nil && passphrase == nil) {
            let give =
                withPassphrase
                ? "--passphrase-file FILE (it was encrypted with a passphrase)"
                : "--identity FILE (the key of one of its recipients)"
            throw PGKeepError(
                .usage, "\(input.path) is encrypted with age\(recipients); give \(give); the target was not touched")
        }
        if let manifest = input.manifest {
            _ = try input.check { _ in
                throw PGKeepError(.backup, "an encrypted file is checked against its manifest only")
            }
            guard manifest.encryption != nil else {
                throw input.refusal("\(input.path) is encrypted but its manifest does not say so")
            }
        }
        let age = try AgeTool(environment: environment)
        let dir = try makeScratchDirectory()
        do {
            let plain = dir + "/decrypted"
            if let identity, !withPassphrase {
                try age.decrypt(input.path, identity: identity, output: plain, environment: environment)
            } else if let passphrase {
                try age.decrypt(input.path, passphrase: passphrase, output: plain, environment: environment)
            }
            _ = chmod(plain, 0o600)
            var manifest = input.manifest
            if let e = manifest?.encryption {
                // From here on the manifest describes the decrypted file.
                manifest?.size = e.plaintextSize
                manifest?.sha256 = e.plaintextSha256
            }
            let decrypted = RestoreInput(
                path: plain, kind: try detectFile(plain), manifest: manifest, origin: input.path, scratch: dir)
            guard decrypted.kind != .encrypted else {
                throw input.refusal("\(input.path) decrypts to another age file")
            }
            return decrypted
        } catch {
            FileSystem.removeTree(dir)
            throw error
        }
    }

    /// Opens a pgkeep backup (its data file, directory or manifest) or any stock pg_dump output.
    public static func open(_ given: String) throws -> RestoreInput {
        var path = given
        var manifest: Manifest?
        if given.hasSuffix(BackupName.manifestSuffix) {
            let m = try Manifest.load(path: given)
            path = (FileSystem.parent(of: given) as NSString).appendingPathComponent(m.file)
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
        if let codec = Codec.detect(head[0..<n]) {
            // Peek at the start of the decompressed stream, and stop reading there (the first
            // megabyte, not the whole file).
            struct Seen: Error {}
            var first = [UInt8]()
            do {
                _ = try codec.decompress(fd: fd, path: path, hashing: false) { chunk in
                    first.append(contentsOf: chunk.prefix(5 - first.count))
                    if first.count >= 5 { throw Seen() }
                    return true
                }
            } catch is Seen {
            } catch {
                // A stream too short to show 5 bytes is classified by what it showed; the full
                // check reports the damage.
                if first.isEmpty { throw error }
            }
            _ = lseek(fd, 0, SEEK_SET)
            return .compressed(codec, archive: first == Array("PGDMP".utf8))
        }
        if n >= 5 && Array(head[0..<5]) == Array("PGDMP".utf8) { return .custom }
        if n >= AgeTool.header.count && Array(head[0..<AgeTool.header.count]) == AgeTool.header { return .encrypted }
        if n >= 262 && Array(head[257..<262]) == Array("ustar".utf8) { return .tar }
        return .plain
    }
}

extension RestoreInput {
    /// Hands the decompressed content of a compressed input to `body`, chunk by chunk, while it
    /// returns true.
    func decompress(_ body: (UnsafeRawBufferPointer) throws -> Bool) throws {
        guard let codec = kind.codec else {
            throw PGKeepError(.backup, "internal error: \(path) (\(kind)) is not compressed")
        }
        if let stream { return try decompressStream(stream, codec: codec, body) }
        let fd = Foundation.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PGKeepError(.backup, "cannot open \(path): \(errnoText())") }
        defer { close(fd) }
        guard checkedAsRead else {
            // Checked before the restore began (against the manifest, or read whole), or a partial
            // read (the table of contents): no hash.
            _ = try refusingDamage(body) { try codec.decompress(fd: fd, path: path, hashing: false, consume: $0) }
            return
        }
        // Every byte is read and hashed even after `body` has what it needs.
        try requireMatch(try refusingDamage(body) { try codec.decompress(fd: fd, path: path, consume: $0) })
    }

    /// Runs `read` (a decompression handing its output to `body`): the decompressor's errors are
    /// the file's damage, a refusal; `body`'s own (a full disk, a child gone) pass unchanged.
    private func refusingDamage(
        _ body: (UnsafeRawBufferPointer) throws -> Bool,
        _ read: ((UnsafeRawBufferPointer) throws -> Bool) throws -> DecompressedStream
    ) throws -> DecompressedStream {
        var bodyError: Error?
        do {
            return try withoutActuallyEscaping(body) { body in
                try read { chunk in
                    do { return try body(chunk) } catch {
                        bodyError = error
                        throw error
                    }
                }
            }
        } catch {
            if let bodyError { throw bodyError }
            if let e = error as? PGKeepError { throw refusal(e.message) }
            throw error
        }
    }

    /// What was read matches the manifest (size and sha256 of the file as it is on disk).
    func requireMatch(_ r: DecompressedStream) throws {
        try requireMatch(sha256: r.sha256, size: r.compressedBytes)
    }

    func requireMatch(sha256: String, size: Int64) throws {
        guard let manifest else { return }
        try requireMatch(origin, sha256: sha256, size: size, expected: (manifest.sha256, manifest.size))
    }

    /// A streamed input: decompressed as it arrives, hashed on the way, and at its end checked
    /// against the manifest. The caller must not let the restore commit before this returns.
    private func decompressStream(
        _ bytes: RemoteBytes, codec: Codec, _ body: (UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        let download = try bytes.open()
        let r: DecompressedStream
        do {
            // Every byte is read (and hashed) even after `body` has what it needs.
            r = try refusingDamage(body) { try codec.decompress(fd: download.fd, path: origin, consume: $0) }
        } catch {
            download.cancel()
            throw error
        }
        do { try download.finish() } catch let e as PGKeepError {
            throw PGKeepError(
                e.kind, e.message + "; the restore was rolled back", command: e.command, stderrTail: e.stderrTail,
                hint: e.hint)
        }
        try requireMatch(r)
    }
}
